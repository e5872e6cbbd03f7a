// FastIommu's translate against the floor (bench/floor.ts), on two mixes of a dozen device and
// PASID streams with 90% locality: one dominated by 2M and 1G hits, one by 4K hits. Reported
// cold (the first 50,000 calls of each, each cold sample in a fresh process) and in steady state
// (after 1.2 M calls of each, V8 having tiered both up), with FastIommu's and the floor's passes
// interleaved, and the page sizes the requests hit.
//
//   npm run bench:translate              a table on screen
//   npm run bench:translate -- --json    the figures as JSON
//   npm run bench:translate -- --quick   fewer rounds and cold processes (noisier)
//   --mix huge|small (one mix), --steady-only (no cold processes), --curve MIX fast|floor [CALLS]
//   (ns per call of each 10,000 calls from cold: the warm-up curve)
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { FastIommu } from '../impl/index.ts';
import type { Access, Translation } from '../model/types.ts';
import { makeFloor, rng } from './floor.ts';

const K4 = 0x1000n;
const M2 = 0x20_0000n;
const G1 = 0x4000_0000n;
const COLD_CALLS = 50_000;
const WARM_CALLS = 1_200_000;
const PASS = 1 << 16; // the trace's length
const ROUND = 4096; // calls per subject in a steady round

/** A mix: of the requests that do not revisit a recent buffer, the share of each page size. */
interface Mix {
  readonly name: string;
  readonly share: { readonly k4: number; readonly m2: number; readonly g1: number };
}
const MIXES: Record<string, Mix> = {
  huge: { name: '2M/1G mix', share: { k4: 0.1, m2: 0.6, g1: 0.3 } },
  small: { name: '4K mix', share: { k4: 0.8, m2: 0.15, g1: 0.05 } },
};

/** 12 streams: 4 devices, each with RID traffic and 2 PASIDs, each stream its own domain. */
const STREAMS = [0x0100, 0x0200, 0x0300, 0x0400].flatMap((device, i) =>
  [null, 1, 2].map((pasid, j) => ({ device, pasid, domain: 1 + i * 3 + j })),
);
type Stream = (typeof STREAMS)[number];
interface Buffer {
  readonly iova: bigint;
  readonly size: bigint;
  readonly writable: boolean;
}
interface Trace {
  readonly device: Int32Array;
  readonly pasid: (number | null)[];
  readonly iova: bigint[];
  readonly access: Access[];
  /** Requests landing in 4K, 2M and 1G leaves. */
  readonly hitSizes: { k4: number; m2: number; g1: number };
}

/** Per domain: 256 scattered 4K buffers (80% writable), 64 2M buffers and 4 1G buffers. */
function populate(io: FastIommu, random: () => number): Map<number, Buffer[]> {
  const buffers = new Map<number, Buffer[]>();
  for (const s of STREAMS) {
    if (!io.createDomain(s.domain).ok) throw new Error('createDomain');
    const bs: Buffer[] = [];
    const add = (iova: bigint, pa: bigint, size: bigint, prot: 1 | 3): void => {
      if (!io.map(s.domain, iova, pa, size, prot).ok) throw new Error('map');
      bs.push({ iova, size, writable: prot === 3 });
    };
    const base = BigInt(s.domain) << 40n;
    for (let i = 0n; i < 256n; i++) add(base + i * 3n * K4, BigInt(Math.floor(random() * 2 ** 28)) * K4, K4, random() < 0.8 ? 3 : 1);
    for (let i = 0n; i < 64n; i++) add(base + G1 + i * M2, (BigInt(s.domain) * 64n + i) * M2, M2, 3);
    for (let i = 0n; i < 4n; i++) add(base + 2n * G1 + i * G1, (BigInt(s.domain) * 4n + i + 8n) * G1, G1, 3);
    buffers.set(s.domain, bs);
    const attached = s.pasid === null ? io.attachDevice(s.device, s.domain) : io.attachPasid(s.device, s.pasid, s.domain);
    if (!attached.ok) throw new Error('attach');
  }
  return buffers;
}

/** 90% of requests go to one of the 64 most recently used buffers, 10% to a new pick by the mix's shares. */
function makeTrace(mix: Mix, buffers: Map<number, Buffer[]>, random: () => number): Trace {
  const t: Trace = { device: new Int32Array(PASS), pasid: [], iova: [], access: [], hitSizes: { k4: 0, m2: 0, g1: 0 } };
  const recent: [Stream, Buffer][] = [];
  for (let i = 0; i < PASS; i++) {
    let pick: [Stream, Buffer];
    if (recent.length > 0 && random() < 0.9) pick = recent[Math.floor(random() * recent.length)]!;
    else {
      const s = STREAMS[Math.floor(random() * STREAMS.length)]!;
      const bs = buffers.get(s.domain)!;
      const k = random();
      const b = k < mix.share.k4 ? bs[Math.floor(random() * 256)]! : k < mix.share.k4 + mix.share.m2 ? bs[256 + Math.floor(random() * 64)]! : bs[320 + Math.floor(random() * 4)]!;
      pick = [s, b];
      recent.push(pick);
      if (recent.length > 64) recent.shift();
    }
    const [s, b] = pick;
    // Within a large buffer, DMA walks a few pages around one of 4 hot spots.
    const span = b.size > 64n * K4 ? 64n * K4 : b.size;
    const hot = b.size > span ? BigInt(Math.floor(random() * 4)) * (b.size / 4n) : 0n;
    t.device[i] = s.device;
    t.pasid.push(s.pasid);
    t.iova.push(b.iova + hot + (BigInt(Math.floor(random() * Number(span))) & ~7n));
    t.access.push(b.writable && random() < 0.3 ? 'write' : 'read');
    t.hitSizes[b.size === K4 ? 'k4' : b.size === M2 ? 'm2' : 'g1']++;
  }
  return t;
}

/** A mix's subjects: FastIommu (default options, IOTLB 1024) populated, the trace, the floor. */
function setUp(mix: Mix): { fast: FastIommu; trace: Trace; floor: ReturnType<typeof makeFloor> } {
  const fast = new FastIommu();
  const trace = makeTrace(mix, populate(fast, rng(1)), rng(2));
  return { fast, trace, floor: makeFloor() };
}

// Two loops, one per subject, so that neither call site sees the other's function (a shared
// driver would be polymorphic and cost both). Each runs `calls` requests from `at`, wrapping.
let sink = 0;
function runFast(io: FastIommu, t: Trace, at: number, calls: number): void {
  for (let k = 0; k < calls; k++) {
    const i = (at + k) & (PASS - 1);
    if (io.translate(t.device[i]!, t.pasid[i]!, t.iova[i]!, t.access[i]!).ok) sink++;
  }
}
function runFloor(floor: (d: number, p: number | null, iova: bigint, a: string) => Translation, t: Trace, at: number, calls: number): void {
  for (let k = 0; k < calls; k++) {
    const i = (at + k) & (PASS - 1);
    if (floor(t.device[i]!, t.pasid[i]!, t.iova[i]!, t.access[i]!).ok) sink++;
  }
}
const nsPerCall = (run: () => void, calls: number): number => {
  const t0 = process.hrtime.bigint();
  run();
  return Number(process.hrtime.bigint() - t0) / calls;
};
const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[(s.length - 1) >> 1]!;
};

interface Figures {
  fastNs: number;
  floorNs: number;
  /** The median of the per-round (or per-process) ratios floor / FastIommu: >= 1 is as fast as the floor. */
  ratio: number;
  samples: number;
}

/**
 * Steady state: both warmed over WARM_CALLS, then `rounds` rounds of one short pass each (ROUND
 * calls from the same place of the trace, the order alternating), so that the two see the same
 * load of a shared machine; the figure is the median of the rounds' ratios.
 */
function steady(mix: Mix, rounds: number): Figures & { iotlbHitRate: number; hitSizes: Trace['hitSizes'] } {
  const { fast, trace, floor } = setUp(mix);
  for (let done = 0; done < WARM_CALLS; done += PASS) {
    runFast(fast, trace, 0, PASS);
    runFloor(floor, trace, 0, PASS);
  }
  const before = fast.stats();
  const f: number[] = [];
  const g: number[] = [];
  const ratios: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const at = (r * ROUND) & (PASS - 1);
    const a = (): number => nsPerCall(() => runFast(fast, trace, at, ROUND), ROUND);
    const b = (): number => nsPerCall(() => runFloor(floor, trace, at, ROUND), ROUND);
    let x: number;
    let y: number;
    if (r % 2 === 0) {
      x = a();
      y = b();
    } else {
      y = b();
      x = a();
    }
    f.push(x);
    g.push(y);
    ratios.push(y / x);
  }
  const after = fast.stats();
  const hits = after.iotlbHits - before.iotlbHits;
  const misses = after.iotlbMisses - before.iotlbMisses;
  if (fast.checkInvariants().length !== 0) throw new Error('invariants');
  return { fastNs: median(f), floorNs: median(g), ratio: median(ratios), samples: rounds, iotlbHitRate: hits / (hits + misses), hitSizes: trace.hitSizes };
}

/** One cold sample (in a fresh process): the first COLD_CALLS of each, FastIommu first or not. */
function coldSample(mix: Mix, fastFirst: boolean): { fastNs: number; floorNs: number } {
  const { fast, trace, floor } = setUp(mix);
  const a = (): number => nsPerCall(() => runFast(fast, trace, 0, COLD_CALLS), COLD_CALLS);
  const b = (): number => nsPerCall(() => runFloor(floor, trace, 0, COLD_CALLS), COLD_CALLS);
  if (fastFirst) {
    const fastNs = a();
    return { fastNs, floorNs: b() };
  }
  const floorNs = b();
  return { fastNs: a(), floorNs };
}

function cold(mixKey: string, processes: number): Figures {
  const f: number[] = [];
  const g: number[] = [];
  const ratios: number[] = [];
  for (let p = 0; p < processes; p++) {
    const out = execFileSync(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), '--cold-child', mixKey, p % 2 === 0 ? 'fast-first' : 'floor-first'], { encoding: 'utf8' });
    const s = JSON.parse(out) as { fastNs: number; floorNs: number };
    f.push(s.fastNs);
    g.push(s.floorNs);
    ratios.push(s.floorNs / s.fastNs);
  }
  return { fastNs: median(f), floorNs: median(g), ratio: median(ratios), samples: processes };
}

/** The warm-up curve of one subject, alone in this process: ns per call of each chunk of 10,000 calls. */
function curve(mix: Mix, subject: string, calls: number): number[] {
  const { fast, trace, floor } = setUp(mix);
  const out: number[] = [];
  for (let at = 0; at < calls; at += 10_000)
    out.push(Math.round(nsPerCall(() => (subject === 'fast' ? runFast(fast, trace, at, 10_000) : runFloor(floor, trace, at, 10_000)), 10_000)));
  return out;
}

const args = process.argv.slice(2);
if (args[0] === '--curve') {
  // npm run bench:translate -- --curve huge|small fast|floor [CALLS]: where the time of the first calls goes.
  console.log(curve(MIXES[args[1]!]!, args[2]!, Number(args[3] ?? 1_000_000)).join(' '));
} else if (args[0] === '--cold-child') {
  console.log(JSON.stringify(coldSample(MIXES[args[1]!]!, args[2] === 'fast-first')));
} else {
  const quick = args.includes('--quick');
  const out: Record<string, unknown> = { node: process.version };
  // --mix huge|small: that mix only; --steady-only: no cold processes (for quick comparisons).
  const only = args.includes('--mix') ? args[args.indexOf('--mix') + 1] : undefined;
  const mixes = Object.entries(MIXES).filter(([key]) => only === undefined || key === only);
  for (const [key, mix] of mixes) {
    const s = steady(mix, quick ? 160 : 800);
    const c = args.includes('--steady-only') ? { fastNs: NaN, floorNs: NaN, ratio: NaN, samples: 0 } : cold(key, quick ? 4 : 12);
    const total = s.hitSizes.k4 + s.hitSizes.m2 + s.hitSizes.g1;
    out[key] = {
      mix: mix.name,
      requestsIn: { '4K': s.hitSizes.k4 / total, '2M': s.hitSizes.m2 / total, '1G': s.hitSizes.g1 / total },
      iotlbHitRate: s.iotlbHitRate,
      steady: { fastNs: s.fastNs, floorNs: s.floorNs, ratio: s.ratio, rounds: s.samples },
      cold: { fastNs: c.fastNs, floorNs: c.floorNs, ratio: c.ratio, processes: c.samples },
    };
  }
  if (args.includes('--json')) console.log(JSON.stringify(out, null, 2));
  else {
    const pct = (x: number): string => `${(x * 100).toFixed(1)}%`;
    console.log(`node ${process.version}; FastIommu (IOTLB 1024) vs the floor, 12 streams, 90% locality; ratio = floor ns / FastIommu ns (goal >= 0.85)`);
    for (const [key] of mixes) {
      const m = out[key] as { mix: string; requestsIn: Record<string, number>; iotlbHitRate: number; steady: Figures & { rounds: number }; cold: Figures & { processes: number } };
      console.log(`\n${m.mix}: requests in 4K ${pct(m.requestsIn['4K']!)}, 2M ${pct(m.requestsIn['2M']!)}, 1G ${pct(m.requestsIn['1G']!)} leaves; IOTLB hit rate ${pct(m.iotlbHitRate)}`);
      console.log(`  steady (median of ${m.steady.rounds} interleaved rounds of ${ROUND}): FastIommu ${m.steady.fastNs.toFixed(1)} ns, floor ${m.steady.floorNs.toFixed(1)} ns, ratio ${m.steady.ratio.toFixed(2)}`);
      console.log(`  cold (first ${COLD_CALLS} calls, median of ${m.cold.processes} processes): FastIommu ${m.cold.fastNs.toFixed(1)} ns, floor ${m.cold.floorNs.toFixed(1)} ns, ratio ${m.cold.ratio.toFixed(2)}`);
    }
  }
  if (sink < 0) console.log(sink);
}
