// Property suites only: FastIommu's self-check (checkInvariants, which the harness calls after
// every step) and the parts of FastIommu a 40-call run cannot reach.
// - For any state reached by generated calls, checkInvariants() is silent; after any one
//   corruption of its packed structures (arena, page tables, extents, flush queues, context
//   tables, IOTLB), it names that corruption.
// - A flush queue holding exactly its 256 ranges is sound; a deferred domain with more pending
//   ranges overflows its flush queue, and still conforms (judged call by call by the model).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Domain } from '../../impl/domain.ts';
import type { IntervalSet } from '../../impl/interval-set.ts';
import { FastIommu } from '../../impl/index.ts';
import { ENTRIES, PTE_LEAF, PTE_VALID, SPAN, leafPte, tablePte, type TableArena } from '../../impl/pagetable.ts';
import { ReferenceIommu } from '../../model/index.ts';
import type { Call } from '../../model/types.ts';
import { K4, M2, G1 } from '../helpers/sizes.ts';


interface Inside {
  domains: Map<number, Domain>;
  rid: Map<number, Domain>;
  pasids: Map<number, Map<number, Domain>>;
  arena: TableArena;
  tlb: TlbInside;
  walks: number;
}
/** The IOTLB's fields, private ones included. */
interface TlbInside {
  used: number;
  nslots: number;
  capacity: number;
  readonly size: number;
  slotDom: (Domain | undefined)[];
  slotTag: Float64Array;
  slotLevel: Uint8Array;
  slotFrame: Float64Array;
  slotPte: Float64Array;
  slotHome: Int32Array;
  buckets: Int32Array;
  freeSlots: number[];
  hits: number;
  misses: number;
}
const inside = (io: FastIommu): Inside => io as unknown as Inside;
/** An interval set's two (private) arrays, to corrupt a range in place. */
const ranges = (set: IntervalSet): { starts: number[]; ends: number[] } => set as unknown as { starts: number[]; ends: number[] };

// Domains: 1 strict split 4 levels; 2 deferred whole 3 levels; 3 identity; 4 4K-only, 2M aperture;
// 5 strict whole 5 levels; 6 a 1G aperture (left to the fixed start: room for large leaves at and
// beyond its end). Device d uses domain d + 1 (RID); device 0 PASID 1 uses domain 3.
const DOMAINS: [number, object][] = [
  [1, {}],
  [2, { invalidation: 'deferred', unmap: 'whole', levels: 3 }],
  [3, { type: 'identity' }],
  [4, { pageSizes: [K4], aperture: M2 }],
  [5, { unmap: 'whole', levels: 5 }],
  [6, { aperture: G1 }],
];
const PAGING = [1, 2, 4, 5];

type Op =
  | { k: 'map'; d: number; iova: bigint; size: bigint; pa: bigint; prot: number }
  | { k: 'unmap'; d: number; iova: bigint; size: bigint }
  | { k: 'translate'; d: number; iova: bigint; write: boolean }
  | { k: 'flush'; d: number };

const iova = fc.oneof(fc.integer({ min: 0, max: 600 }).map((p) => BigInt(p) * K4), fc.constantFrom(0n, M2, 2n * M2, G1, G1 + M2));
const size = fc.constantFrom(K4, 2n * K4, 16n * K4, M2, 2n * M2, G1);
const op: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 4,
    // PAs congruent to the IOVA (large leaves), or off by some pages for small ranges only: a 1G
    // range of 4K leaves would make every check slow.
    arbitrary: fc
      .record({ k: fc.constant('map' as const), d: fc.constantFrom(...PAGING), iova, size, shift: fc.constantFrom(0n, G1, 3n * G1, 5n * K4), prot: fc.constantFrom(1, 2, 3) })
      .map(({ shift, ...o }) => ({ ...o, pa: o.iova + (o.size >= M2 && shift === 5n * K4 ? 0n : shift) })),
  },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('unmap' as const), d: fc.constantFrom(...PAGING), iova, size }) },
  { weight: 4, arbitrary: fc.record({ k: fc.constant('translate' as const), d: fc.constantFrom(...PAGING), iova, write: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('flush' as const), d: fc.constantFrom(...PAGING) }) },
);

/** A FastIommu in the state the calls lead to; each answer is judged by the model on the way. */
function build(ops: Op[], iotlbSize = 64): FastIommu {
  const io = new FastIommu({ iotlbSize });
  const model = new ReferenceIommu();
  const run = (c: Call): void => {
    const answer = (io as unknown as Record<string, (...a: unknown[]) => unknown>)[c.op]!(...Object.values(c).slice(1));
    const verdict = model.check(c, answer);
    expect(verdict.conforming, JSON.stringify(verdict, (_k, v: unknown) => (typeof v === 'bigint' ? `${v}` : v))).toBe(true);
  };
  for (const [id, options] of DOMAINS) run({ op: 'createDomain', id, options });
  for (const [id] of DOMAINS) run({ op: 'attachDevice', device: id - 1, domain: id });
  run({ op: 'attachPasid', device: 0, pasid: 1, domain: 3 });
  // A fixed start, so that every state has table pages, leaves of each size, IOTLB entries, extents.
  const start: Op[] = [
    { k: 'map', d: 1, iova: G1, size: G1 + M2 + K4, pa: G1, prot: 3 },
    { k: 'map', d: 2, iova: 0n, size: 4n * K4, pa: 0n, prot: 1 },
    { k: 'map', d: 4, iova: 0n, size: 2n * K4, pa: 0n, prot: 2 },
    { k: 'map', d: 5, iova: M2, size: M2, pa: M2, prot: 3 },
    { k: 'map', d: 6, iova: 0n, size: K4, pa: 0n, prot: 3 },
    { k: 'translate', d: 1, iova: G1, write: false },
    { k: 'translate', d: 1, iova: 2n * G1, write: false },
    { k: 'translate', d: 1, iova: 2n * G1 + M2, write: true },
    { k: 'translate', d: 2, iova: K4, write: false },
    { k: 'translate', d: 5, iova: M2, write: false },
    { k: 'map', d: 1, iova: 0n, size: K4, pa: 0n, prot: 3 },
    { k: 'unmap', d: 1, iova: 0n, size: K4 },
  ];
  for (const o of [...start, ...ops]) {
    if (o.k === 'map') run({ op: 'map', domain: o.d, iova: o.iova, pa: o.pa, size: o.size, prot: o.prot });
    else if (o.k === 'unmap') run({ op: 'unmap', domain: o.d, iova: o.iova, size: o.size });
    else if (o.k === 'flush') run({ op: 'flush', domain: o.d });
    else run({ op: 'translate', device: o.d - 1, pasid: null, iova: o.iova, access: o.write ? 'write' : 'read' });
  }
  expect(io.checkInvariants()).toEqual([]);
  return io;
}

/** The table page at `level` on the walk to `pfn` in domain `d`, or undefined. */
function tableAt(x: Inside, d: Domain, level: number, pfn: number): number | undefined {
  let t = d.root;
  for (let l = d.levels - 1; l > level; l--) {
    const e = x.arena.pte[t * ENTRIES + (Math.floor(pfn / SPAN[l]!) % ENTRIES)]!;
    if (e === 0 || (e & PTE_LEAF) !== 0) return undefined;
    t = e >>> 4;
  }
  return t;
}
/** The slot of a live IOTLB entry of domain `d` (of that level, if given), if any. */
const slotOf = (x: Inside, d: Domain, level?: number): number | undefined => {
  for (let s = 0; s < x.tlb.used; s++) if (x.tlb.slotDom[s] === d && (level === undefined || x.tlb.slotLevel[s] === level)) return s;
  return undefined;
};
/** Writes a non-zero entry into a free place of table page `t` and counts it. */
const put = (x: Inside, t: number, i: number, e: number): void => {
  x.arena.pte[t * ENTRIES + i] = e;
  x.arena.cnt[t]!++;
};
/** The level-0 table page of domain 1 that holds its 4K leaf at 2G + 2M (mapped at the start). */
const lastLevel = (x: Inside): number | undefined => tableAt(x, x.domains.get(1)!, 0, Number(2n * G1 + M2) / 4096);

/**
 * A corruption: what it is called, the problem it must be named by, how it applies itself (false
 * when the state has no place for it), and whether every problem reported must match (for
 * checks that could name a sound entry too).
 */
type Corruption = [name: string, problem: RegExp, apply: (x: Inside) => boolean, only?: 'only'];

const dom = (x: Inside, id: number): Domain => x.domains.get(id)!;
const freePage = (x: Inside): number | undefined => x.arena.free[0];
/** Domain 1's level-1 table over 2G (its 2M leaf at entry 0, the 4K table at entry 1). */
const upperTable = (x: Inside): number | undefined => tableAt(x, dom(x, 1), 1, Number((2n * G1) / K4));
const freeEntry = (x: Inside, t: number): number => x.arena.pte.subarray(t * ENTRIES, t * ENTRIES + ENTRIES).lastIndexOf(0);
const CORRUPTIONS: Corruption[] = [
  // Arena.
  ['a free page twice', /a page is twice in the free list/, (x) => freePage(x) !== undefined && (x.arena.free.push(freePage(x)!), true)],
  ['a free page out of range', /free page \d+ out of range/, (x) => (x.arena.free.push(x.arena.top + 3), true)],
  ['a free page at the top', /free page \d+ out of range/, (x) => (x.arena.free.push(x.arena.top), true)],
  ['a negative free page', /free page -1 out of range/, (x) => (x.arena.free.push(-1), true)],
  ['a fractional free page', /free page 0.5 out of range/, (x) => (x.arena.free.push(0.5), true)],
  ['a free page with a count', /free page \d+ has count 1/, (x) => freePage(x) !== undefined && ((x.arena.cnt[freePage(x)!] = 1), true)],
  ['a free page not zero', /free page \d+ is not zero/, (x) => freePage(x) !== undefined && ((x.arena.pte[freePage(x)! * ENTRIES + 5] = 1), true)],
  ['a page handed out and lost', /table pages in use but \d+ reachable/, (x) => x.arena.top < x.arena.capacityPages && (x.arena.top++, true)],
  // Domains.
  ['a domain under another id', /recorded under id 1/, (x) => (x.domains.set(9, dom(x, 1)), true)],
  ['an identity domain with a table', /non-paging domain has a table/, (x) => ((dom(x, 3) as { root: number }).root = 0) === 0],
  // Two counts that a wrong sum would cancel.
  ['an identity domain with IOTLB entries', /non-paging domain has IOTLB entries/, (x) => ((dom(x, 3).tlbN[1] = 1), (dom(x, 3).tlbN[2] = 1), true)],
  ['an identity domain with queued ranges', /non-paging domain has queued invalidations/, (x) => (dom(x, 3).flushQueue.push(0, 1), true)],
  ['a wrong mapped-page count', /domain 1: \d+ pages mapped, \d+ counted/, (x) => (dom(x, 1).mappedPages++, true)],
  ['a strict domain with a queued range', /strict domain has queued invalidations/, (x) => (dom(x, 1).flushQueue.push(0, 1), true)],
  ['a flush queue over its size', /flush queue over its size/, (x) => {
    for (let i = 0; i < 257; i++) dom(x, 2).flushQueue.push(2 * i, 2 * i + 1);
    return true;
  }],
  ['an empty queued range', /bad queued range \[5, 5\)/, (x) => (dom(x, 2).flushQueue.push(5, 5), true)],
  ['a queued range beyond the aperture', /bad queued range/, (x) => (dom(x, 2).flushQueue.push(0, dom(x, 2).aperturePfn + 1), true)],
  ['a negative queued range', /bad queued range \[-1, 1\)/, (x) => (dom(x, 2).flushQueue.push(-1, 1), true)],
  ['extents in a split domain', /'split' domain records extents/, (x) => (dom(x, 1).extents.push(0, 1), true)],
  // Page tables.
  ['a root outside the arena', /table page \d+ out of the arena/, (x) => ((dom(x, 4).root = x.arena.top + 7), true)],
  ['a root at the top of the arena', /domain 4: table page \d+ out of the arena/, (x) => ((dom(x, 4).root = x.arena.top), true)],
  ['a negative root', /domain 4: table page -1 out of the arena/, (x) => ((dom(x, 4).root = -1), true)],
  ['a fractional root', /domain 4: table page 0.5 out of the arena/, (x) => ((dom(x, 4).root = 0.5), true)],
  ['a root in use and free', /table page \d+ is in use and free/, (x) => (x.arena.free.push(dom(x, 4).root), true)],
  ['two domains sharing a root', /table page \d+ reached twice/, (x) => ((dom(x, 5).root = dom(x, 1).root), true)],
  ['a wrong entry count in an upper table', /table page \d+ counts \d+ entries, holds \d+/, (x) => (x.arena.cnt[dom(x, 1).root]!++, true)],
  ['a wrong entry count in a last-level table', /table page \d+ counts \d+ entries, holds \d+/, (x) => lastLevel(x) !== undefined && (x.arena.cnt[lastLevel(x)!]!++, true)],
  ['an empty table left behind', /empty table page \d+ not freed/, (x) => {
    const t = lastLevel(x);
    if (t === undefined) return false;
    x.arena.pte.fill(0, t * ENTRIES, t * ENTRIES + ENTRIES);
    x.arena.cnt[t] = 0;
    return true;
  }],
  ['an empty last-level table left behind (4K-only domain)', /empty table page \d+ not freed/, (x) => {
    const d = dom(x, 4);
    const t = tableAt(x, d, 0, 0);
    if (t === undefined) return false;
    x.arena.pte.fill(0, t * ENTRIES, t * ENTRIES + ENTRIES);
    x.arena.cnt[t] = 0;
    d.mappedPages = 0;
    return true;
  }],
  ['a malformed PTE', /malformed PTE/, (x) => lastLevel(x) !== undefined && ((x.arena.pte[lastLevel(x)! * ENTRIES + 511] = 0.5), x.arena.cnt[lastLevel(x)!]!++, true)],
  // Well-formed flags (valid, leaf, some permission) on a value that is no PTE: the quick check
  // of last-level tables must send each of them to the detailed one.
  ...([
    ['a last-level PTE of 2^44 or more', 2 ** 44 + PTE_LEAF + PTE_VALID + 3],
    ['a fractional last-level PTE', 7 * 16 + PTE_LEAF + PTE_VALID + 3 + 0.5],
    ['a negative last-level PTE', -(2 ** 20) + PTE_LEAF + PTE_VALID + 3],
  ] as const).map(([name, value]): Corruption => [name, /malformed PTE/, (x) => {
    const t = lastLevel(x);
    if (t === undefined) return false;
    const i = x.arena.pte.subarray(t * ENTRIES, t * ENTRIES + ENTRIES).indexOf(0);
    if (i < 0) return false;
    x.arena.pte[t * ENTRIES + i] = value;
    x.arena.cnt[t]!++;
    return true;
  }]),
  ['a PTE of exactly 2^44', /malformed PTE 17592186044416/, (x) => (put(x, dom(x, 1).root, 300, 2 ** 44), true)],
  // Entries of upper tables are checked by the detailed loop alone: one wrong field each.
  ['a 2M leaf without the valid flag', /non-zero PTE without the valid flag/, (x) => {
    const t = upperTable(x);
    return t !== undefined && (put(x, t, freeEntry(x, t), 7 * 512 * 16 + PTE_LEAF + 3), true);
  }],
  ['a 2M leaf PTE of 2^44 or more', /malformed PTE/, (x) => {
    const t = upperTable(x);
    return t !== undefined && (put(x, t, freeEntry(x, t), leafPte(2 ** 40 + 512, 3)), true);
  }],
  ['a 1G leaf at the aperture', /domain 6: level 2 entry 1 \(pfn 0x40000\): beyond the aperture/, (x) => {
    const t = tableAt(x, dom(x, 6), 2, 0);
    return t !== undefined && (put(x, t, 1, leafPte(2 ** 18, 3)), true);
  }],
  ['a misaligned 2M leaf ending at the aperture', /leaf PA not aligned to its size/, (x) => {
    const t = tableAt(x, dom(x, 6), 1, 0);
    if (t === undefined) return false;
    put(x, t, 511, leafPte(3 * 512 + 1, 3));
    dom(x, 6).mappedPages += 512;
    return true;
  }, 'only'],
  ['a 2M leaf without permissions', /leaf without permissions/, (x) => {
    const t = tableAt(x, dom(x, 6), 1, 0);
    if (t === undefined) return false;
    put(x, t, 510, leafPte(5 * 512, 0));
    dom(x, 6).mappedPages += 512;
    return true;
  }, 'only'],
  ['an empty last-level table left behind (whole domain)', /domain 2: empty table page \d+ not freed/, (x) => {
    const t = tableAt(x, dom(x, 2), 0, 0);
    if (t === undefined) return false;
    x.arena.pte.fill(0, t * ENTRIES, t * ENTRIES + ENTRIES);
    x.arena.cnt[t] = 0;
    return true;
  }],
  ['a negative PTE in an upper table', /malformed PTE -16/, (x) => ((x.arena.pte[dom(x, 1).root * ENTRIES + 300] = -16), x.arena.cnt[dom(x, 1).root]!++, true)],
  ['a PTE without the valid flag', /non-zero PTE without the valid flag/, (x) => ((x.arena.pte[dom(x, 1).root * ENTRIES + 300] = 7 * 16 + PTE_LEAF + 3), x.arena.cnt[dom(x, 1).root]!++, true)],
  ['an entry beyond the aperture', /beyond the aperture/, (x) => {
    const d = dom(x, 4); // aperture 2M: only entry 0 of each upper table is inside
    x.arena.pte[d.root * ENTRIES + 1] = 16 * SPAN[3]! + PTE_LEAF + PTE_VALID + 3;
    x.arena.cnt[d.root]!++;
    return true;
  }],
  ['a leaf crossing the aperture', /leaf crosses the aperture/, (x) => {
    const d = dom(x, 4);
    const t = tableAt(x, d, 2, 0);
    if (t === undefined) return false;
    x.arena.pte[t * ENTRIES] = 0; // replace the table entry by a 1G leaf at IOVA 0
    x.arena.pte[t * ENTRIES] = 0 * 16 + PTE_LEAF + PTE_VALID + 3;
    return true;
  }],
  ['a leaf of a size the domain does not use', /leaf of a size the domain does not use/, (x) => {
    const d = dom(x, 4); // 4K pages only
    const t = tableAt(x, d, 1, 0);
    if (t === undefined) return false;
    x.arena.pte[t * ENTRIES] = 512 * 16 + PTE_LEAF + PTE_VALID + 3;
    return true;
  }],
  ['a leaf at level 3', /leaf of a size the domain does not use/, (x) => {
    const d = dom(x, 1);
    x.arena.pte[d.root * ENTRIES + 300] = 0 + PTE_LEAF + PTE_VALID + 3;
    x.arena.cnt[d.root]!++;
    return true;
  }],
  ['a leaf without permissions', /leaf without permissions/, (x) => {
    const t = lastLevel(x);
    if (t === undefined) return false;
    x.arena.pte[t * ENTRIES] = x.arena.pte[t * ENTRIES]! - 3 + 0;
    x.arena.pte[t * ENTRIES] = x.arena.pte[t * ENTRIES]! - (x.arena.pte[t * ENTRIES]! & 3);
    return true;
  }],
  ['a large leaf with a misaligned PA', /leaf PA not aligned to its size/, (x) => {
    const d = dom(x, 1);
    const t = tableAt(x, d, 1, Number((2n * G1) / K4));
    if (t === undefined) return false;
    const i = 0; // 2G: mapped by a 2M leaf
    const e = x.arena.pte[t * ENTRIES + i]!;
    if (e === 0 || (e & PTE_LEAF) === 0) return false;
    x.arena.pte[t * ENTRIES + i] = e + 16;
    return true;
  }],
  ['a 1G leaf with a PA off by 4M', /leaf PA not aligned to its size/, (x) => {
    const t = tableAt(x, dom(x, 1), 2, Number(G1 / K4));
    if (t === undefined) return false;
    const e = x.arena.pte[t * ENTRIES + 1]!;
    if ((e & PTE_LEAF) === 0) return false; // G1: mapped by a 1G leaf at the start
    x.arena.pte[t * ENTRIES + 1] = e + 16 * 1024;
    return true;
  }],
  ['a table entry with permission bits', /table entry with permission bits/, (x) => {
    const d = dom(x, 1);
    const i = x.arena.pte.subarray(d.root * ENTRIES, d.root * ENTRIES + ENTRIES).findIndex((e) => e !== 0);
    x.arena.pte[d.root * ENTRIES + i]! += 1;
    return true;
  }],
  ['a table below the last level', /table below the last level/, (x) => {
    const t = lastLevel(x);
    if (t === undefined) return false;
    x.arena.pte[t * ENTRIES + 511] = 3 * 16 + PTE_VALID;
    x.arena.cnt[t]!++;
    return true;
  }],
  // 'whole' extents.
  ['an empty extent', /empty extent 0/, (x) => dom(x, 2).extents.size > 0 && ((ranges(dom(x, 2).extents).ends[0] = dom(x, 2).extents.start(0)), true)],
  ['overlapping extents', /extents 0 and 1 overlap or are unsorted/, (x) => {
    const d = dom(x, 2);
    if (d.extents.size === 0) return false;
    d.extents.insertSorted(d.extents.start(0), d.extents.end(0));
    return true;
  }],
  ['extents that do not add up', /extents hold \d+ pages, the table \d+/, (x) => dom(x, 5).extents.size > 0 && (ranges(dom(x, 5).extents).ends[0]!++, true)],
  ['an extent ending inside its 2M leaf', /domain 5: leaf at pfn 0x200 not inside one map extent/, (x) => {
    const d = dom(x, 5);
    const ext = ranges(d.extents);
    const k = ext.starts.indexOf(512);
    const t = tableAt(x, d, 1, 512);
    if (k < 0 || ext.ends[k] !== 1024 || t === undefined || (x.arena.pte[t * ENTRIES + 1]! & PTE_LEAF) === 0) return false;
    ext.ends[k] = 1023;
    return true;
  }],
  ['a leaf outside every extent', /leaf at pfn 0x[0-9a-f]+ not inside one map extent/, (x) => dom(x, 2).extents.size > 0 && (ranges(dom(x, 2).extents).starts[0]!++, ranges(dom(x, 2).extents).ends[0]!++, true)],
  // Context tables.
  ['a device on a destroyed domain', /context: device 7 points to a destroyed domain 1/, (x) => (x.rid.set(7, new Domain(1, 999, { type: 'blocked' })), true)],
  ['an empty PASID table', /context: device 3 has an empty PASID table/, (x) => (x.pasids.set(3, new Map()), true)],
  ['a wrong attachment count', /domain 1: attached 1 times, counted 2/, (x) => (dom(x, 1).attached++, true)],
  ['a PASID on a destroyed domain', /context: device 0 PASID 1 points to a destroyed domain 3/, (x) => (x.pasids.get(0)!.set(1, new Domain(3, 997, { type: 'identity' })), true)],
  ['an attachment not counted', /domain 1: attached 2 times, counted 1/, (x) => (x.pasids.get(0)!.set(2, dom(x, 1)), true)],
  ['a count for an unattached domain', /domain 9: attached 0 times, counted 1/, (x) => {
    const d = new Domain(9, 998, { type: 'blocked' });
    d.attached = 1;
    x.domains.set(9, d);
    return true;
  }],
  // IOTLB entries against the tables.
  ['an IOTLB entry of a destroyed domain', /iotlb: slot \d+ belongs to destroyed domain 1/, (x) => {
    const s = slotOf(x, dom(x, 1));
    if (s === undefined) return false;
    x.tlb.slotDom[s] = new Domain(1, dom(x, 1).tag, dom(x, 1).config);
    return true;
  }],
  ['an IOTLB entry at level 3', /iotlb: slot \d+ has level 3/, (x) => {
    const s = slotOf(x, dom(x, 1));
    if (s === undefined) return false;
    x.tlb.slotLevel[s] = 3;
    return true;
  }],
  ['a wrong IOTLB count', /iotlb: domain 2 counts 5 level-0 entries, holds \d/, (x) => ((dom(x, 2).tlbN[0] = 5), true)],
  ['a cached entry that is no leaf', /cached PTE is not a leaf/, (x) => {
    const s = slotOf(x, dom(x, 1));
    if (s === undefined) return false;
    x.tlb.slotPte[s] = x.tlb.slotPte[s]! - PTE_LEAF;
    return true;
  }],
  ['a cached entry that is not valid', /cached PTE is not a leaf/, (x) => {
    const s = slotOf(x, dom(x, 1));
    if (s === undefined) return false;
    x.tlb.slotPte[s] = x.tlb.slotPte[s]! - PTE_VALID;
    return true;
  }],
  ['a cached entry beyond the aperture', /iotlb: domain 2 level \d frame 0x[0-9a-f]+: beyond the aperture/, (x) => {
    const s = slotOf(x, dom(x, 2));
    if (s === undefined) return false;
    x.tlb.slotFrame[s] = 2 ** 30;
    return true;
  }],
  ['a stale cached PA in a strict domain', /stale for pfns/, (x) => {
    const s = slotOf(x, dom(x, 1));
    if (s === undefined) return false;
    x.tlb.slotPte[s] = x.tlb.slotPte[s]! + 16 * SPAN[x.tlb.slotLevel[s]!]!;
    return true;
  }],
  ['a stale cached permission in a strict domain', /stale for pfns/, (x) => {
    const s = slotOf(x, dom(x, 1));
    if (s === undefined) return false;
    const e = x.tlb.slotPte[s]!;
    x.tlb.slotPte[s] = e - (e & 3) + ((e & 3) === 1 ? 2 : 1);
    return true;
  }],
  ['a cached 4K page unmapped behind the IOTLB', /domain 1 level 0 frame 0x[0-9a-f]+: stale for pfns/, (x) => {
    const d = dom(x, 1);
    const s = slotOf(x, d, 0);
    if (s === undefined) return false;
    const f = x.tlb.slotFrame[s]!;
    const t = tableAt(x, d, 0, f);
    if (t === undefined) return false;
    const at = t * ENTRIES + (f % ENTRIES);
    if (x.arena.pte[at] === 0) return false;
    x.arena.pte[at] = 0;
    x.arena.cnt[t]!--;
    d.mappedPages--;
    return true;
  }],
  ['a cached 2M leaf split, its first page gone', /domain 1 level 1 frame 0x[0-9a-f]+: stale for pfns \[0x[0-9a-f]+, 0x[0-9a-f]+\)/, (x) => {
    const d = dom(x, 1);
    const s = slotOf(x, d, 1);
    if (s === undefined) return false;
    const f = x.tlb.slotFrame[s]!;
    const t = tableAt(x, d, 1, f * 512);
    if (t === undefined) return false;
    const e = x.arena.pte[t * ENTRIES + (f % ENTRIES)]!;
    if ((e & PTE_LEAF) === 0) return false;
    const page = x.arena.alloc(); // may replace x.arena.pte
    for (let k = 1; k < ENTRIES; k++) put(x, page, k, e + 16 * k);
    x.arena.pte[t * ENTRIES + (f % ENTRIES)] = tablePte(page);
    d.mappedPages--;
    return true;
  }, 'only'],
  ['a stale 2M entry with a gap in the queued ranges', /domain 1 level 1 frame 0x[0-9a-f]+: stale for pfns/, (x) => {
    const d = dom(x, 1);
    const s = slotOf(x, d, 1);
    if (s === undefined) return false;
    x.tlb.slotPte[s] = x.tlb.slotPte[s]! + 16 * 512;
    const r0 = x.tlb.slotFrame[s]! * 512;
    d.flushQueue.push(r0, r0 + 1);
    d.flushQueue.push(r0 + 2, r0 + 512);
    return true;
  }],
  // Lookup counters.
  ['a page walk not counted', /iotlb: \d+ hits, \d+ misses and \d+ walks do not add up/, (x) => (x.walks++, true)],
  ['a negative hit count', /iotlb: -1 hits, \d+ misses and \d+ walks do not add up/, (x) => ((x.tlb.hits = -1), true)],
  // The IOTLB's own structure.
  ['slots handed out beyond the arrays', /iotlb: slots handed out beyond the arrays/, (x) => ((x.tlb.used = x.tlb.nslots + 1), true)],
  ['an IOTLB slot twice free', /iotlb: a slot is twice in the free list/, (x) => (x.tlb.freeSlots.push(0, 0), true)],
  ['an IOTLB slot empty but not free', /iotlb: slot \d+ empty but not free/, (x) => {
    const s = slotOf(x, dom(x, 1));
    if (s === undefined) return false;
    x.tlb.slotDom[s] = undefined;
    return true;
  }],
  ['an IOTLB slot used and free', /iotlb: slot \d+ used and free/, (x) => {
    const s = slotOf(x, dom(x, 1));
    if (s === undefined) return false;
    x.tlb.freeSlots.push(s);
    return true;
  }],
  ['an IOTLB slot with a wrong tag', /iotlb: slot \d+ tag \d+ is not its domain's \d+/, (x) => {
    const s = slotOf(x, dom(x, 1));
    if (s === undefined) return false;
    x.tlb.slotTag[s] = 12345;
    return true;
  }],
  ['an IOTLB slot with a wrong home', /iotlb: slot \d+ home bucket is wrong/, (x) => {
    const s = slotOf(x, dom(x, 1));
    if (s === undefined) return false;
    x.tlb.slotHome[s] = (x.tlb.slotHome[s]! + 1) % x.tlb.buckets.length;
    return true;
  }],
  ['an IOTLB bucket pointing to a free slot', /iotlb: bucket \d+ points to a free slot/, (x) => {
    const i = x.tlb.buckets.findIndex((v) => v === 0);
    x.tlb.buckets[i] = x.tlb.used + 1;
    return true;
  }],
  ['an IOTLB bucket pointing to a freed slot', /iotlb: bucket \d+ points to a free slot[\s\S]*live slots, \d+ in the hash table/, (x) => {
    const s = x.tlb.freeSlots[0];
    if (s === undefined) return false;
    x.tlb.buckets[x.tlb.buckets.findIndex((v) => v === 0)] = s + 1;
    return true;
  }],
  ['an IOTLB entry missing from the hash table', /iotlb: slot \d+ not found by its key[\s\S]*live slots, \d+ in the hash table/, (x) => {
    const i = x.tlb.buckets.findIndex((v) => v !== 0);
    x.tlb.buckets[i] = 0;
    return true;
  }],
  ['an IOTLB fill not counted', /iotlb: \d+ fills - \d+ evictions - \d+ invalidated != \d+ entries/, (x) => ((x.tlb as unknown as { fills: number }).fills--, true)],
  ['an IOTLB over its capacity', /iotlb: \d+ entries for capacity 1/, (x) => {
    (x.tlb as { capacity: number }).capacity = 1;
    return x.tlb.size > 1;
  }],
];

describe('checkInvariants', () => {
  it('is silent on every state generated calls lead to, and names any one corruption of it', () => {
    const applied = new Set<string>();
    fc.assert(
      fc.property(fc.array(op, { maxLength: 25 }), (ops) => {
        for (const [name, problem, corrupt, only] of CORRUPTIONS) {
          const io = build(ops);
          if (!corrupt(inside(io))) continue; // the state has no place for it (say, nothing cached)
          applied.add(name);
          const problems = io.checkInvariants();
          expect(problems.join('\n'), name).toMatch(problem);
          if (only === 'only') for (const p of problems) expect(p, name).toMatch(problem);
        }
      }),
      { seed: 0xc0ffee, numRuns: 12 },
    );
    // A corruption that never found its place would check nothing.
    expect(CORRUPTIONS.map(([name]) => name).filter((name) => !applied.has(name))).toEqual([]);
  });

  it('names lookups that do not add up in an IOTLB of capacity 0 (a walk each, no hit, no miss)', () => {
    const io = build([], 0);
    const x = inside(io);
    x.tlb.hits = 1;
    x.tlb.misses = 1;
    expect(io.checkInvariants().join('\n')).toMatch(/iotlb: 1 hits, 1 misses and \d+ walks do not add up/);
  });
});

describe('stats', () => {
  it('counts what the structures hold, for any state generated calls lead to', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 25 }), fc.constantFrom(0, 4, 64), (ops, iotlbSize) => {
        const io = build(ops, iotlbSize);
        const x = inside(io);
        const s = io.stats();
        expect(s.domains).toBe(DOMAINS.length);
        expect(s.mappedPages).toBe([...x.domains.values()].reduce((n, d) => n + d.mappedPages, 0));
        expect(s.tablePages).toBe(x.arena.top - x.arena.free.length);
        expect(s.tableBytes).toBe(s.tablePages * 4096);
        expect(s.arenaBytes).toBe(s.arenaPages * (ENTRIES * 8 + 2));
        expect(s.iotlbCapacity).toBe(iotlbSize);
        expect(s.iotlbEntries).toBe(x.tlb.size);
        expect(s.pendingInvalidations).toBe(dom(x, 2).flushQueue.size);
      }),
      { seed: 0x57a7, numRuns: 20 },
    );
  });
});

describe('deferred invalidation beyond the flush queue', () => {
  it('a queue holding exactly its 256 ranges is sound and has not overflowed', () => {
    const io = new FastIommu();
    io.createDomain(1, { invalidation: 'deferred' });
    io.attachDevice(0, 1);
    const at = (i: number): bigint => BigInt(2 * i) * K4;
    for (let i = 0; i < 256; i++) io.map(1, at(i), at(i), K4, 3);
    io.translate(0, null, at(0), 'read'); // something cached, so that unmaps are queued
    for (let i = 0; i < 256; i++) io.unmap(1, at(i), K4);
    expect(io.stats().pendingInvalidations).toBe(256);
    expect(io.stats().flushQueueOverflows).toBe(0);
    expect(io.checkInvariants()).toEqual([]);
  });

  it('a deferred domain with more pending ranges than its queue holds still conforms', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 257, max: 320 }),
        fc.integer({ min: 2, max: 5 }),
        fc.constantFrom(1, 64, Number.POSITIVE_INFINITY),
        fc.boolean(),
        (pages, stride, iotlbSize, whole) => {
          const io = new FastIommu({ iotlbSize });
          const model = new ReferenceIommu();
          const run = (c: Call): void => {
            const answer = (io as unknown as Record<string, (...a: unknown[]) => unknown>)[c.op]!(...Object.values(c).slice(1));
            expect(model.check(c, answer).conforming).toBe(true);
          };
          run({ op: 'createDomain', id: 1, options: { invalidation: 'deferred', unmap: whole ? 'whole' : 'split' } });
          run({ op: 'attachDevice', device: 0, domain: 1 });
          const at = (i: number): bigint => BigInt(i * stride) * K4;
          for (let i = 0; i < pages; i++) run({ op: 'map', domain: 1, iova: at(i), pa: G1 + at(i), size: K4, prot: 3 });
          for (let i = 0; i < pages; i++) run({ op: 'translate', device: 0, pasid: null, iova: at(i), access: 'read' });
          // Unmapped in separate, non-adjacent ranges: none merges with the queue's last range.
          for (let i = 0; i < pages; i++) run({ op: 'unmap', domain: 1, iova: at(i), size: K4 });
          expect(io.checkInvariants()).toEqual([]);
          for (let i = 0; i < pages; i++) run({ op: 'translate', device: 0, pasid: null, iova: at(i), access: 'write' });
          run({ op: 'flush', domain: 1 });
          for (let i = 0; i < pages; i += 7) run({ op: 'translate', device: 0, pasid: null, iova: at(i), access: 'read' });
          expect(io.checkInvariants()).toEqual([]);
          expect(io.stats().flushQueueOverflows).toBe(1);
        },
      ),
      { seed: 0xf1a5, numRuns: 10 },
    );
  });

  it('a queue that overflows while only large leaves are cached invalidates them too', () => {
    fc.assert(
      fc.property(fc.constantFrom(M2, G1), fc.integer({ min: 257, max: 270 }), fc.constantFrom(8, Number.POSITIVE_INFINITY), (leaf, unmaps, iotlbSize) => {
        const io = new FastIommu({ iotlbSize });
        const model = new ReferenceIommu();
        const run = (c: Call): void => {
          const answer = (io as unknown as Record<string, (...a: unknown[]) => unknown>)[c.op]!(...Object.values(c).slice(1));
          expect(model.check(c, answer).conforming, JSON.stringify(c, (_k, v: unknown) => (typeof v === 'bigint' ? `0x${v.toString(16)}` : v))).toBe(true);
        };
        const read = (iova: bigint): Call => ({ op: 'translate', device: 0, pasid: null, iova, access: 'read' });
        run({ op: 'createDomain', id: 1, options: { invalidation: 'deferred' } });
        run({ op: 'attachDevice', device: 0, domain: 1 });
        // One large leaf, cached; pages elsewhere, never translated (so never cached).
        run({ op: 'map', domain: 1, iova: leaf, pa: 4n * G1, size: leaf, prot: 3 });
        run(read(leaf + K4));
        const page = (i: number): bigint => 64n * G1 + BigInt(2 * i) * K4;
        for (let i = 0; i < unmaps; i++) run({ op: 'map', domain: 1, iova: page(i), pa: page(i), size: K4, prot: 3 });
        // The large leaf's unmap is queued first; the separate page unmaps overflow the queue.
        run({ op: 'unmap', domain: 1, iova: leaf, size: leaf });
        for (let i = 0; i < unmaps; i++) run({ op: 'unmap', domain: 1, iova: page(i), size: K4 });
        run({ op: 'flush', domain: 1 });
        run(read(leaf + K4));
        expect(io.stats().flushQueueOverflows).toBe(1);
      }),
      { seed: 0x1e0f, numRuns: 6 },
    );
  });
});
