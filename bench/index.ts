// Benchmarks of FastIommu (impl/), side by side with ReferenceIommu (model/) and a bare
// typed-array lookup (the floor: the same bigint conversions and result object, no IOMMU).
//
//   npm run bench               a table on screen
//   npm run bench -- --json     the figures as JSON on stdout
//   npm run bench -- --quick    shorter runs (noisier)
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Bench } from 'tinybench';
import { FastIommu } from '../impl/index.ts';
import type { Iommu, Translation } from '../model/types.ts';
import { makeFloor, rng } from './floor.ts';

const args = new Set(process.argv.slice(2));
const JSON_OUT = args.has('--json');
const QUICK = args.has('--quick');
const TIME = QUICK ? 150 : 600; // ms per task

const K4 = 0x1000n;
const M2 = 0x20_0000n;
const G1 = 0x4000_0000n;

type Sync = {
  [K in keyof Iommu]: Iommu[K] extends (...a: infer A) => infer R ? (...a: A) => Awaited<R> : Iommu[K];
};

function gcNow(): void {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  gc();
  gc();
}

async function loadReference(): Promise<(new () => Sync) | undefined> {
  try {
    const m = (await import('../model/index.ts')) as { ReferenceIommu?: new () => Sync };
    return m.ReferenceIommu;
  } catch {
    return undefined;
  }
}

// ------------------------------------------------------------------ the DMA mix

interface Stream {
  device: number;
  pasid: number | null;
  domain: number;
}
interface Region {
  iova: bigint;
  size: bigint;
  writable: boolean;
}
interface Trace {
  device: Int32Array;
  pasid: (number | null)[];
  iova: bigint[];
  access: ('read' | 'write')[];
}

const STREAMS: Stream[] = [
  { device: 0x0100, pasid: null, domain: 1 }, // NIC, RID
  { device: 0x0200, pasid: null, domain: 2 }, // NVMe
  { device: 0x0300, pasid: null, domain: 3 }, // GPU, RID
  { device: 0x0300, pasid: 1, domain: 4 }, // GPU, process A (SVA)
  { device: 0x0300, pasid: 2, domain: 5 }, // GPU, process B
  { device: 0x0400, pasid: null, domain: 6 }, // accelerator
  { device: 0x0400, pasid: 7, domain: 7 }, // accelerator, a PASID
];

/** Maps, in each stream's domain, 512 scattered 4K buffers, 32 2M buffers and 2 1G buffers. */
function populate(io: Sync, random: () => number): Map<number, Region[]> {
  const regions = new Map<number, Region[]>();
  for (const s of STREAMS) {
    if (io.createDomain(s.domain).ok !== true) throw new Error('createDomain');
    const rs: Region[] = [];
    const add = (iova: bigint, pa: bigint, size: bigint, prot: number): void => {
      const r = io.map(s.domain, iova, pa, size, prot);
      if (!r.ok) throw new Error(`map: ${JSON.stringify(r)}`);
      rs.push({ iova, size, writable: (prot & 2) !== 0 });
    };
    const base = BigInt(s.domain) << 40n;
    for (let i = 0n; i < 512n; i++) {
      const pa = BigInt(Math.floor(random() * 2 ** 28)) * K4;
      add(base + i * 3n * K4, pa, K4, random() < 0.8 ? 3 : 1);
    }
    for (let i = 0n; i < 32n; i++) add(base + G1 + i * M2, (BigInt(s.domain) * 64n + i) * M2, M2, 3);
    for (let i = 0n; i < 2n; i++) add(base + 2n * G1 + i * G1, (BigInt(s.domain) * 4n + i + 8n) * G1, G1, 3);
    regions.set(s.domain, rs);
    const att = s.pasid === null ? io.attachDevice(s.device, s.domain) : io.attachPasid(s.device, s.pasid, s.domain);
    if (!att.ok) throw new Error('attach');
  }
  return regions;
}

/** 90% of requests go to one of the 64 most recently used buffers, 10% to any mapped buffer. */
function makeTrace(regions: Map<number, Region[]>, n: number, random: () => number): Trace {
  const t: Trace = { device: new Int32Array(n), pasid: [], iova: [], access: [] };
  const recent: [Stream, Region][] = [];
  for (let i = 0; i < n; i++) {
    let pick: [Stream, Region];
    if (recent.length > 0 && random() < 0.9) pick = recent[Math.floor(random() * recent.length)]!;
    else {
      const s = STREAMS[Math.floor(random() * STREAMS.length)]!;
      const rs = regions.get(s.domain)!;
      // By kind: 50% 4K buffers, 35% 2M, 15% 1G.
      const k = random();
      const r = k < 0.5 ? rs[Math.floor(random() * 512)]! : k < 0.85 ? rs[512 + Math.floor(random() * 32)]! : rs[544 + Math.floor(random() * 2)]!;
      pick = [s, r];
      recent.push(pick);
      if (recent.length > 64) recent.shift();
    }
    const [s, r] = pick;
    // Within a large buffer, DMA walks a few pages around a hot spot.
    const span = r.size > 64n * K4 ? 64n * K4 : r.size;
    const hot = r.size > span ? (BigInt(Math.floor(random() * 4)) * (r.size / 4n)) : 0n;
    t.device[i] = s.device;
    t.pasid.push(s.pasid);
    t.iova.push(r.iova + hot + (BigInt(Math.floor(random() * Number(span))) & ~7n));
    t.access.push(r.writable && random() < 0.3 ? 'write' : 'read');
  }
  return t;
}

// ------------------------------------------------------------------ reporting

interface Row {
  group: string;
  name: string;
  nsPerOp: number;
  opsPerSec: number;
  note?: string;
}
const rows: Row[] = [];
const figures: Record<string, number | string> = {};
const log = (s: string): void => {
  if (!JSON_OUT) console.log(s);
};

async function measure(group: string, tasks: [string, () => void, number][]): Promise<Map<string, number>> {
  const bench = new Bench({ time: TIME, warmup: true, warmupTime: Math.min(200, TIME) });
  for (const [name, fn] of tasks) bench.add(name, fn);
  await bench.run();
  const out = new Map<string, number>();
  for (const task of bench.tasks) {
    const perCall = tasks.find((t) => t[0] === task.name)![2];
    const r = task.result as { latency?: { p50: number } };
    if (r.latency === undefined) throw new Error(`${task.name}: no result`);
    // The median sample: robust to the spikes of a shared machine.
    const ns = (r.latency.p50 * 1e6) / perCall;
    out.set(task.name, ns);
    rows.push({ group, name: task.name, nsPerOp: ns, opsPerSec: 1e9 / ns });
  }
  return out;
}

// ------------------------------------------------------------------ benchmarks

async function translateMix(Reference: (new () => Sync) | undefined): Promise<void> {
  const N = 1 << 16;
  const CHUNK = 1024;
  const subjects: [string, Sync['translate'], number][] = [];
  const fast = new FastIommu();
  const regions = populate(fast, rng(1));
  const trace = makeTrace(regions, N, rng(2));
  subjects.push(['FastIommu', fast.translate.bind(fast), CHUNK]);
  if (Reference !== undefined) {
    const ref = new Reference();
    populate(ref, rng(1));
    subjects.push(['ReferenceIommu', ref.translate.bind(ref), 16]);
  } else {
    log('note: model/ReferenceIommu not available, skipped');
    figures.referenceSkipped = 'model/index.ts has no ReferenceIommu yet';
  }
  subjects.push(['floor (typed-array lookup)', makeFloor(), CHUNK]);
  // Sanity: FastIommu and the reference agree on the trace.
  if (Reference !== undefined) {
    const ref = new Reference();
    populate(ref, rng(1));
    for (let i = 0; i < 4096; i++) {
      const a = fast.translate(trace.device[i]!, trace.pasid[i]!, trace.iova[i]!, trace.access[i]!);
      const b = ref.translate(trace.device[i]!, trace.pasid[i]!, trace.iova[i]!, trace.access[i]!);
      if (JSON.stringify(a, big) !== JSON.stringify(b, big)) throw new Error(`disagree at ${i}: ${JSON.stringify(a, big)} vs ${JSON.stringify(b, big)}`);
    }
  }
  let sink = 0;
  const tasks: [string, () => void, number][] = subjects.map(([name, tr, per]) => {
    let at = 0;
    return [
      name,
      () => {
        for (let k = 0; k < per; k++) {
          const i = at;
          at = (at + 1) & (N - 1);
          if (tr(trace.device[i]!, trace.pasid[i]!, trace.iova[i]!, trace.access[i]!).ok) sink++;
        }
      },
      per,
    ];
  });
  const s0 = fast.stats();
  const ns = await measure('translate, DMA mix (7 streams, 4K/2M/1G, 90% locality)', tasks);
  const s1 = fast.stats();
  const hits = s1.iotlbHits - s0.iotlbHits;
  const misses = s1.iotlbMisses - s0.iotlbMisses;
  figures.mixIotlbHitRate = hits / (hits + misses);
  figures.mixFastNs = ns.get('FastIommu')!;
  figures.mixFloorNs = ns.get('floor (typed-array lookup)')!;
  figures.mixFastVsFloor = figures.mixFloorNs / figures.mixFastNs;
  if (ns.has('ReferenceIommu')) {
    figures.mixReferenceNs = ns.get('ReferenceIommu')!;
    figures.mixFastVsReference = figures.mixReferenceNs / figures.mixFastNs;
  }
  if (sink < 0) console.log(sink);
}

const big = (_: string, v: unknown): unknown => (typeof v === 'bigint' ? `0x${v.toString(16)}` : v);

async function mapUnmap(Reference: (new () => Sync) | undefined): Promise<void> {
  const tasks: [string, () => void, number][] = [];
  const make = (name: string, io: Sync, size: bigint, per: number): void => {
    io.createDomain(1);
    let k = 0n;
    tasks.push([
      `${name} map+unmap ${size === K4 ? '4K' : size === M2 ? '2M' : '1G'}`,
      () => {
        for (let j = 0; j < per; j++) {
          const iova = (k++ % 1024n) * size;
          if (!io.map(1, iova, iova, size, 3).ok) throw new Error('map');
          if (!io.unmap(1, iova, size).ok) throw new Error('unmap');
        }
      },
      per,
    ]);
  };
  for (const size of [K4, M2, G1]) {
    make('FastIommu', new FastIommu(), size, 64);
    if (Reference !== undefined) make('ReferenceIommu', new Reference(), size, 16);
  }
  // Also the greedy split path: 2M and 1G maps in a 4K-only domain (512 and 262144 PTEs).
  const only4k = new FastIommu();
  only4k.createDomain(1, { pageSizes: [K4] });
  tasks.push([
    'FastIommu map+unmap 2M as 512 4K PTEs',
    () => {
      only4k.map(1, 0n, 0n, M2, 3);
      only4k.unmap(1, 0n, M2);
    },
    1,
  ]);
  const ns = await measure('map + unmap pair, per size (strict, split)', tasks);
  for (const [k, v] of ns) figures[`mapUnmap ${k}`] = v;
}

async function translateScaling(): Promise<void> {
  // One domain with 4K pages only, `pages` contiguous pages. Two traces: uniform random over all
  // pages (the working set outgrows the CPU caches at 1e6 pages: 8 MB of PTEs), and 90% locality
  // (90% of requests to the 64 most recently used pages). The floor reads a filled Float64Array of
  // the same size (an untouched array would read the shared zero page and never miss the cache).
  const tasks: [string, () => void, number][] = [];
  const M = 1 << 16;
  for (const pages of [1e3, 1e6]) {
    const label = pages === 1e3 ? '1e3' : '1e6';
    for (const pattern of ['uniform', '90% local'] as const) {
      const random = rng(3);
      const iovas: bigint[] = [];
      const recent: number[] = [];
      for (let i = 0; i < M; i++) {
        let p: number;
        if (pattern === '90% local' && recent.length > 0 && random() < 0.9) p = recent[Math.floor(random() * recent.length)]!;
        else {
          p = Math.floor(random() * pages);
          recent.push(p);
          if (recent.length > 64) recent.shift();
        }
        iovas.push(BigInt(p) * K4 + BigInt(Math.floor(random() * 4096)));
      }
      const subjects: [string, (iova: bigint) => Translation][] = [];
      for (const iotlbSize of [1024, 0]) {
        const io = new FastIommu({ iotlbSize });
        io.createDomain(1, { pageSizes: [K4] });
        io.attachDevice(0, 1);
        io.map(1, 0n, 1n << 30n, BigInt(pages) * K4, 3);
        subjects.push([`FastIommu${iotlbSize === 0 ? ' (IOTLB off)' : ''}`, (iova) => io.translate(0, null, iova, 'read')]);
      }
      const table = new Float64Array(pages);
      for (let i = 0; i < pages; i++) table[i] = (1 << 18) + i;
      subjects.push(['floor', (iova) => ({ ok: true, pa: BigInt(table[Number(iova >> 12n)]! * 4096 + Number(iova & 0xfffn)) })]);
      for (const [name, tr] of subjects) {
        let at = 0;
        tasks.push([
          `${label} pages, ${pattern}: ${name}`,
          () => {
            for (let k = 0; k < 1024; k++) {
              tr(iovas[at]!);
              at = (at + 1) & (M - 1);
            }
          },
          1024,
        ]);
      }
    }
  }
  const ns = await measure('translate by mapped pages (one domain, 4K pages)', tasks);
  for (const [k, v] of ns) figures[`scaling ${k}`] = v;
}

async function translateNested(): Promise<void> {
  // v2: translate through a nested domain (stage 1 IOVA -> IPA over a parent's stage 2 IPA -> PA)
  // against a plain paging domain giving the same PAs, with a warm IOTLB (every request a hit:
  // a combined entry is looked up like any other, so the two should cost the same) and with the
  // IOTLB off (every request a walk: two walks for the nested domain).
  const PAGES = 512;
  const M = 1 << 16;
  const random = rng(4);
  const iovas: bigint[] = [];
  for (let i = 0; i < M; i++) iovas.push(BigInt(Math.floor(random() * PAGES)) * K4 + BigInt(Math.floor(random() * 4096)));
  const size = BigInt(PAGES) * K4;
  const subjects: [string, FastIommu][] = [];
  for (const iotlbSize of [1024, 0]) {
    const off = iotlbSize === 0 ? ', IOTLB off' : ', IOTLB hits';
    const plain = new FastIommu({ iotlbSize });
    plain.createDomain(1, { pageSizes: [K4] });
    plain.attachDevice(0, 1);
    plain.map(1, 0n, 1n << 31n, size, 3);
    subjects.push([`paging domain${off}`, plain]);
    const nested = new FastIommu({ iotlbSize });
    nested.createDomain(1, { pageSizes: [K4] }); // the parent: IPA 1G.. -> PA 2G..
    nested.map(1, 1n << 30n, 1n << 31n, size, 3);
    nested.createDomain(2, { type: 'nested', parent: 1, pageSizes: [K4] }); // IOVA 0.. -> IPA 1G..
    nested.map(2, 0n, 1n << 30n, size, 3);
    nested.attachDevice(0, 2);
    subjects.push([`nested domain${off}`, nested]);
  }
  // Sanity: the same answers; then warm the IOTLBs.
  for (const iova of iovas.slice(0, 4096)) {
    const answers = subjects.map(([, io]) => JSON.stringify(io.translate(0, null, iova, 'read'), big));
    if (new Set(answers).size !== 1) throw new Error(`nested bench: answers differ at ${iova}: ${answers.join(' ')}`);
  }
  for (let p = 0n; p < size; p += K4) for (const [, io] of subjects) io.translate(0, null, p, 'read');
  const before = subjects.map(([, io]) => io.stats());
  const tasks: [string, () => void, number][] = subjects.map(([name, io]) => {
    let at = 0;
    return [
      name,
      () => {
        for (let k = 0; k < 1024; k++) {
          io.translate(0, null, iovas[at]!, 'read');
          at = (at + 1) & (M - 1);
        }
      },
      1024,
    ];
  });
  const ns = await measure(`translate through a nested domain vs a paging domain (${PAGES} 4K pages)`, tasks);
  subjects.forEach(([name, io], i) => {
    const s = io.stats();
    if (name.endsWith('IOTLB hits') && s.iotlbMisses !== before[i]!.iotlbMisses) throw new Error(`${name}: IOTLB misses during the hit benchmark`);
    if (io.checkInvariants().length !== 0) throw new Error(`${name}: invariants`);
  });
  for (const [k, v] of ns) figures[`nested ${k}`] = v;
  figures.nestedHitVsPagingHit = ns.get('nested domain, IOTLB hits')! / ns.get('paging domain, IOTLB hits')!;
  figures.nestedWalkVsPagingWalk = ns.get('nested domain, IOTLB off')! / ns.get('paging domain, IOTLB off')!;
}

async function dirtyTracking(): Promise<void> {
  // v2: readDirty over 1 GiB, as 262144 4K leaves and as one 1G leaf, with every page dirty and
  // with none (the walk alone), with and without clear; and the cost of tracking on translate: a
  // write hit on an IOTLB entry that remembers its leaf as dirty against a write hit with tracking
  // off and in the v1 IOMMU (goal: the same).
  const leaves = new FastIommu();
  leaves.createDomain(1, { dirtyTracking: true, pageSizes: [K4], aperture: 1n << 32n });
  leaves.map(1, 0n, 0n, G1, 3);
  leaves.attachDevice(0, 1);
  leaves.setDirtyTracking(1, true);
  const dirtyAll = (): void => {
    for (let p = 0n; p < G1; p += K4) leaves.translate(0, null, p, 'write');
  };
  const huge = new FastIommu();
  huge.createDomain(1, { dirtyTracking: true, aperture: 1n << 32n });
  huge.map(1, G1, G1, G1, 3);
  huge.attachDevice(0, 1);
  huge.setDirtyTracking(1, true);
  const count = (io: FastIommu, iova: bigint, clear: boolean): number => {
    const r = io.readDirty(1, iova, G1, clear);
    if (!r.ok) throw new Error('readDirty failed');
    return r.value.length;
  };
  // Sanity: one write dirties the 1G leaf, every 4K page reported; the 4K domain all or nothing.
  huge.translate(0, null, G1 + 0x1234n, 'write');
  if (count(huge, G1, true) !== 262144 || count(huge, G1, false) !== 0) throw new Error('dirty bench: 1G leaf');
  dirtyAll();
  if (count(leaves, 0n, false) !== 262144) throw new Error('dirty bench: 4K leaves');
  const tasks: [string, () => void, number][] = [
    ['1 GiB of 4K leaves, all dirty, no clear', () => void count(leaves, 0n, false), 1],
    ['1 GiB as one 1G leaf, dirty, no clear', () => void (huge.translate(0, null, G1, 'write'), count(huge, G1, false)), 1],
    ['1 GiB as one 1G leaf, dirty, clear (+1 write)', () => void (huge.translate(0, null, G1, 'write'), count(huge, G1, true)), 1],
  ];
  const ns = await measure('readDirty over 1 GiB (every 4K page reported)', tasks);
  // With clear, all dirty, 4K leaves: each run needs 262144 writes first, so timed by hand.
  const samples: number[] = [];
  for (let k = 0; k < (QUICK ? 3 : 7); k++) {
    dirtyAll();
    const t0 = performance.now();
    if (count(leaves, 0n, true) !== 262144) throw new Error('dirty bench: clear');
    samples.push((performance.now() - t0) * 1e6);
  }
  samples.sort((x, y) => x - y);
  const clearNs = samples[samples.length >> 1]!;
  rows.push({ group: 'readDirty over 1 GiB (every 4K page reported)', name: '1 GiB of 4K leaves, all dirty, clear', nsPerOp: clearNs, opsPerSec: 1e9 / clearNs, note: 'median of runs timed by hand' });
  ns.set('1 GiB of 4K leaves, all dirty, clear', clearNs);
  // Nothing dirty: the walk alone (4K: 512 table pages of 512 leaves; 1G: one entry), and 2^40 of
  // a mostly unmapped space.
  const clean = await measure('readDirty, nothing dirty (the walk alone)', [
    ['1 GiB of 4K leaves, clear', () => void count(leaves, 0n, true), 1],
    ['1 GiB as one 1G leaf, clear', () => void count(huge, G1, true), 1],
    ['2^32 aperture of which 1 GiB mapped, clear', () => void leaves.readDirty(1, 0n, 1n << 32n, true), 1],
  ]);
  for (const [k, v] of [...ns, ...clean]) figures[`readDirty ${k}`] = v;
  if (leaves.checkInvariants().length !== 0 || huge.checkInvariants().length !== 0) throw new Error('dirty bench: invariants');

  // Write hits, 512 4K pages, IOTLB warm.
  const PAGES = 512;
  const M = 1 << 16;
  const random = rng(5);
  const iovas: bigint[] = [];
  for (let i = 0; i < M; i++) iovas.push(BigInt(Math.floor(random() * PAGES)) * K4 + BigInt(Math.floor(random() * 4096)));
  const make = (capabilities: Record<string, boolean> | undefined, dirty: boolean, track: boolean): FastIommu => {
    const io = new FastIommu(capabilities === undefined ? {} : { capabilities });
    io.createDomain(1, { pageSizes: [K4], ...(dirty ? { dirtyTracking: true } : {}) });
    io.attachDevice(0, 1);
    io.map(1, 0n, 1n << 31n, BigInt(PAGES) * K4, 3);
    if (track) io.setDirtyTracking(1, true);
    for (let p = 0n; p < BigInt(PAGES) * K4; p += K4) io.translate(0, null, p, 'write');
    return io;
  };
  const subjects: [string, FastIommu][] = [
    ['write hit, v1 IOMMU (capabilities {})', make({}, false, false)],
    ['write hit, no dirty record', make(undefined, false, false)],
    ['write hit, dirty record, tracking off', make(undefined, true, false)],
    ['write hit, tracking on, entry marked dirty', make(undefined, true, true)],
  ];
  const before = subjects.map(([, io]) => io.stats());
  const writes = await measure(`translate, write hits with and without dirty tracking (${PAGES} 4K pages)`, subjects.map(([name, io]): [string, () => void, number] => {
    let at = 0;
    return [name, () => {
      for (let k = 0; k < 1024; k++) {
        io.translate(0, null, iovas[at]!, 'write');
        at = (at + 1) & (M - 1);
      }
    }, 1024];
  }));
  subjects.forEach(([name, io], i) => {
    const s = io.stats();
    if (s.iotlbMisses !== before[i]!.iotlbMisses || s.dirtyHitUpdates !== before[i]!.dirtyHitUpdates) throw new Error(`${name}: a miss or a table update during the hit benchmark`);
    if (io.checkInvariants().length !== 0) throw new Error(`${name}: invariants`);
  });
  for (const [k, v] of writes) figures[`dirty ${k}`] = v;
  figures.dirtyHitVsTrackingOff = writes.get('write hit, tracking on, entry marked dirty')! / writes.get('write hit, dirty record, tracking off')!;
  figures.dirtyHitVsV1 = writes.get('write hit, tracking on, entry marked dirty')! / writes.get('write hit, v1 IOMMU (capabilities {})')!;
}

function memory(): void {
  const pages = 1_000_000;
  gcNow();
  const before = process.memoryUsage();
  const io = new FastIommu();
  io.createDomain(1, { pageSizes: [K4] });
  const t = performance.now();
  io.map(1, 0n, 0n, BigInt(pages) * K4, 3);
  const mapMs = performance.now() - t;
  gcNow();
  const after = process.memoryUsage();
  const s = io.stats();
  const heap = after.heapUsed + after.arrayBuffers - (before.heapUsed + before.arrayBuffers);
  figures.memPages = pages;
  figures.memTablePages = s.tablePages;
  figures.memTableBytesPerPage = s.tableBytes / pages;
  figures.memArenaBytesPerPage = s.arenaBytes / pages;
  figures.memHeapDeltaBytesPerPage = heap / pages;
  figures.memMap1e6PagesMs = mapMs;
  const t2 = performance.now();
  io.unmap(1, 0n, BigInt(pages) * K4);
  figures.memUnmap1e6PagesMs = performance.now() - t2;
  figures.memTablePagesAfterUnmap = io.stats().tablePages;
  log('\nmemory, 1e6 contiguous 4K pages in a 4K-only domain');
  log(`  table pages ${s.tablePages}: ${(s.tableBytes / pages).toFixed(2)} B/page in use, arena ${(s.arenaBytes / pages).toFixed(2)} B/page allocated, heap+arrayBuffers delta ${(heap / pages).toFixed(2)} B/page`);
  log(`  map 1e6 pages ${mapMs.toFixed(1)} ms, unmap ${(figures.memUnmap1e6PagesMs as number).toFixed(1)} ms, table pages after unmap ${io.stats().tablePages}`);
  if (!(io.checkInvariants().length === 0)) throw new Error('invariants');
}

function splitScenario(): void {
  const runs: number[] = [];
  for (let r = 0; r < 5; r++) {
    const io = new FastIommu();
    io.createDomain(1);
    io.attachDevice(0, 1);
    const t = performance.now();
    if (!io.map(1, 0n, 0n, 8n * G1, 3).ok) throw new Error('map');
    for (let i = 0n; i < 512n; i++) {
      const r2 = io.unmap(1, i * 8n * M2 + 7n * K4, K4);
      if (!r2.ok || r2.value !== K4) throw new Error('unmap');
    }
    runs.push(performance.now() - t);
    if (r === 0) {
      figures.splitTablePages = io.stats().tablePages;
      if (io.checkInvariants().length !== 0) throw new Error('invariants');
    }
  }
  runs.sort((a, b) => a - b);
  figures.splitScenarioMs = runs[2]!;
  figures.splitScenarioFirstRunMs = runs[runs.length - 1]!;
  log('\nscenario: map 8 GiB as 1G pages, then 512 split unmaps of 4K (one per 16 MiB)');
  log(`  median ${runs[2]!.toFixed(2)} ms (slowest, cold: ${runs[runs.length - 1]!.toFixed(2)} ms), ${figures.splitTablePages} table pages after; goal < 50 ms`);
}

async function main(): Promise<void> {
  const Reference = await loadReference();
  log(`node ${process.version}, ${QUICK ? 'quick' : 'full'} run, ${TIME} ms per task`);
  await translateMix(Reference);
  await mapUnmap(Reference);
  await translateScaling();
  await translateNested();
  await dirtyTracking();
  memory();
  splitScenario();
  if (JSON_OUT) {
    console.log(JSON.stringify({ node: process.version, timeMsPerTask: TIME, rows, figures }, null, 2));
    return;
  }
  let group = '';
  for (const r of rows) {
    if (r.group !== group) {
      group = r.group;
      console.log(`\n${group}`);
    }
    console.log(`  ${r.name.padEnd(44)} ${r.nsPerOp.toFixed(1).padStart(10)} ns/op ${Math.round(r.opsPerSec).toLocaleString('en-US').padStart(14)} op/s`);
  }
  const f = figures;
  console.log('\nsummary');
  console.log(`  translate (mix): FastIommu ${(f.mixFastNs as number).toFixed(1)} ns, floor ${(f.mixFloorNs as number).toFixed(1)} ns -> ${(f.mixFastVsFloor as number).toFixed(2)}x the floor (goal >= 0.5x)`);
  if (f.mixFastVsReference !== undefined)
    console.log(`  translate (mix): ${(f.mixFastVsReference as number).toFixed(0)}x ReferenceIommu (goal >= 10x); IOTLB hit rate ${((f.mixIotlbHitRate as number) * 100).toFixed(1)}%`);
  for (const pattern of ['uniform', '90% local']) {
    const a = f[`scaling 1e3 pages, ${pattern}: FastIommu`] as number;
    const b = f[`scaling 1e6 pages, ${pattern}: FastIommu`] as number;
    const fa = f[`scaling 1e3 pages, ${pattern}: floor`] as number;
    const fb = f[`scaling 1e6 pages, ${pattern}: floor`] as number;
    console.log(`  translate 1e3 -> 1e6 pages, ${pattern}: FastIommu ${a.toFixed(1)} -> ${b.toFixed(1)} ns (x${(b / a).toFixed(2)}), floor ${fa.toFixed(1)} -> ${fb.toFixed(1)} ns (x${(fb / fa).toFixed(2)})`);
  }
  console.log(`  translate through a nested domain: IOTLB hits ${(f.nestedHitVsPagingHit as number).toFixed(2)}x a paging domain's (goal 1x), IOTLB off (two walks) ${(f.nestedWalkVsPagingWalk as number).toFixed(2)}x`);
  console.log(`  dirty tracking: a write hit on an entry marked dirty ${(f.dirtyHitVsTrackingOff as number).toFixed(2)}x a write hit with tracking off (goal 1x), ${(f.dirtyHitVsV1 as number).toFixed(2)}x the v1 IOMMU's`);
  console.log(`  memory: ${(f.memTableBytesPerPage as number).toFixed(2)} B per densely mapped 4K page (goal about 8); split scenario ${(f.splitScenarioMs as number).toFixed(1)} ms (goal < 50)`);
}

await main();
