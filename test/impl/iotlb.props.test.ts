// The IOTLB's hash table and slot bookkeeping against a plain Map of what it must hold, under
// random inserts, lookups and invalidations (ranges, domains), with evictions.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Domain } from '../../impl/domain.ts';
import { Iotlb } from '../../impl/iotlb.ts';
import { SPAN } from '../../impl/pagetable.ts';

const config = { type: 'paging', levels: 4, pageSizes: [0x1000n, 0x20_0000n, 0x4000_0000n], invalidation: 'strict', unmap: 'split', aperture: 1n << 48n } as const;

type Op =
  | { k: 'insert'; d: number; level: number; frame: number }
  | { k: 'range'; d: number; a: number; n: number }
  | { k: 'edge'; pick: number; edge: 'starts-at' | 'starts-after' | 'ends-at' | 'ends-after'; long: boolean }
  | { k: 'burst'; d: number; level: number; first: number; count: number }
  | { k: 'domain'; d: number };

// Small frames often (so that ranges start and end on cached entries), any frame sometimes.
const frame = fc.oneof(fc.integer({ min: 0, max: 40 }), fc.integer({ min: 0, max: 130 }), fc.integer({ min: 0, max: 2 ** 45 - 1 }));
const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 8, arbitrary: fc.record({ k: fc.constant('insert' as const), d: fc.integer({ min: 0, max: 2 }), level: fc.integer({ min: 0, max: 2 }), frame }) },
  // Ranges probed frame by frame (up to 64 frames) or scanned (more).
  { weight: 3, arbitrary: fc.record({ k: fc.constant('range' as const), d: fc.integer({ min: 0, max: 2 }), a: fc.oneof(fc.integer({ min: 0, max: 48 }), fc.integer({ min: 0, max: 400 })), n: fc.oneof(fc.integer({ min: 1, max: 8 }), fc.integer({ min: 60, max: 600 }), fc.integer({ min: 1, max: 2 ** 20 })) }) },
  // A range with one end on a cached entry's first or last frame (picked when the step runs),
  // short (probed) or long (scanned).
  { weight: 2, arbitrary: fc.record({ k: fc.constant('edge' as const), pick: fc.nat(), edge: fc.constantFrom('starts-at', 'starts-after', 'ends-at', 'ends-after'), long: fc.boolean() }) },
  // Many inserts in a row: the slot arrays grow (and rehash) past 64 and 128 entries.
  { weight: 1, arbitrary: fc.record({ k: fc.constant('burst' as const), d: fc.integer({ min: 0, max: 2 }), level: fc.integer({ min: 0, max: 2 }), first: frame, count: fc.integer({ min: 60, max: 140 }) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('domain' as const), d: fc.integer({ min: 0, max: 2 }) }) },
);

/** One entry the cache must hold. */
interface Entry {
  readonly d: number;
  readonly level: number;
  readonly frame: number;
  readonly pte: number;
}
const key = (d: number, level: number, frame: number): string => `${d}/${level}/${frame}`;

/** The range an 'edge' step stands for, given what is cached (none when nothing is). */
function edgeRange(mirror: Map<string, Entry>, step: Extract<Op, { k: 'edge' }>): Extract<Op, { k: 'range' }> | undefined {
  if (mirror.size === 0) return undefined;
  const { d, level, frame } = [...mirror.values()][step.pick % mirror.size]!;
  const span = SPAN[level]!;
  const n = (step.long ? 70 : 3) * span;
  const first = frame * span; // the entry covers [first, first + span)
  const a = step.edge === 'starts-at' ? first : step.edge === 'starts-after' ? first + span : Math.max(0, (step.edge === 'ends-at' ? first : first + span) - n);
  return { k: 'range', d, a, n };
}

describe('FastIommu IOTLB structure', () => {
  // The mirror holds exactly what the cache must hold: an insert adds its entry, and evicts one
  // other entry only when the cache is full (which one is the cache's choice); an invalidation
  // drops exactly the entries it covers, no more; lookups find every entry held.
  it('holds exactly its entries (one eviction per insert when full, exact invalidation), for capacities 0..Infinity', () => {
    fc.assert(
      fc.property(fc.constantFrom(0, 1, 3, 8, 100, Number.POSITIVE_INFINITY), fc.array(op, { minLength: 1, maxLength: 120, size: 'large' }), (cap, ops) => {
        const tlb = new Iotlb(cap);
        const doms = [0, 1, 2].map((i) => new Domain(i, 10 + i, config));
        const mirror = new Map<string, Entry>();
        let pte = 1;
        const holds = (e: Entry): boolean => {
          const slot = tlb.find(doms[e.d]!.tag, e.level, e.frame);
          return slot >= 0 && tlb.pteAt(slot) === e.pte;
        };
        const insert = (d: number, level: number, frame: number): void => {
          if (tlb.find(doms[d]!.tag, level, frame) >= 0) return; // the IOMMU inserts only after a miss
          const k = key(d, level, frame);
          expect(mirror.has(k)).toBe(false);
          const evictions = tlb.evictions;
          const entry = { d, level, frame, pte: ++pte };
          tlb.insert(doms[d]!, level, frame, entry.pte);
          if (cap === 0) {
            expect(tlb.size).toBe(0);
            return;
          }
          expect(holds(entry)).toBe(true);
          if (mirror.size < cap) {
            expect(tlb.size).toBe(mirror.size + 1);
            expect(tlb.evictions).toBe(evictions);
          } else {
            // Full: exactly one old entry out (which one is the cache's choice).
            expect(tlb.size).toBe(cap);
            expect(tlb.evictions).toBe(evictions + 1);
            const gone = [...mirror].filter(([, e]) => !holds(e));
            expect(gone.length).toBe(1);
            mirror.delete(gone[0]![0]);
          }
          mirror.set(k, entry);
        };
        for (const step of ops) {
          const o = step.k === 'edge' ? edgeRange(mirror, step) : step;
          if (o === undefined) continue;
          if (o.k === 'insert') insert(o.d, o.level, o.frame);
          else if (o.k === 'burst') for (let i = 0; i < o.count; i++) insert(o.d, o.level, o.first + 3 * i);
          else {
            const covered = (e: Entry): boolean =>
              e.d === o.d && (o.k === 'domain' || (e.frame * SPAN[e.level]! < o.a + o.n && (e.frame + 1) * SPAN[e.level]! > o.a));
            if (o.k === 'range') tlb.invalidateRange(doms[o.d]!, o.a, o.a + o.n);
            else tlb.invalidateDomain(doms[o.d]!);
            for (const [k, e] of mirror) if (covered(e)) mirror.delete(k);
            // As many entries as the mirror, each of them held: exactly the mirror's entries.
            expect(tlb.size).toBe(mirror.size);
            expect([...mirror.values()].filter((e) => !holds(e))).toEqual([]);
          }
          const problems: string[] = [];
          tlb.checkStructure(problems);
          expect(problems).toEqual([]);
          expect(tlb.size).toBe(mirror.size);
        }
        // Every entry held is found; the per-level counts agree.
        expect([...mirror.values()].filter((e) => !holds(e))).toEqual([]);
        for (const d of doms)
          for (let l = 0; l < 3; l++) expect(d.tlbN[l]).toBe([...mirror.values()].filter((e) => e.d === d.id && e.level === l).length);
      }),
      { numRuns: 100 },
    );
  });
});
