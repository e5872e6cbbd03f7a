// The IOTLB's hash table and slot bookkeeping against a plain Map of what it must hold, under
// random inserts, lookups and invalidations (ranges, domains), with evictions.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Domain } from '../impl/domain.ts';
import { Iotlb } from '../impl/iotlb.ts';
import { SPAN } from '../impl/pagetable.ts';

const config = { type: 'paging', levels: 4, pageSizes: [0x1000n, 0x20_0000n, 0x4000_0000n], invalidation: 'strict', unmap: 'split', aperture: 1n << 48n } as const;

type Op =
  | { k: 'insert'; d: number; level: number; frame: number }
  | { k: 'range'; d: number; a: number; n: number }
  | { k: 'edge'; pick: number; edge: 'starts-at' | 'starts-after' | 'ends-at' | 'ends-after'; long: boolean }
  | { k: 'domain'; d: number };

// Small frames often (so that ranges start and end on cached entries), any frame sometimes.
const frame = fc.oneof(fc.integer({ min: 0, max: 40 }), fc.integer({ min: 0, max: 130 }), fc.integer({ min: 0, max: 2 ** 45 - 1 }));
const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 8, arbitrary: fc.record({ k: fc.constant('insert' as const), d: fc.integer({ min: 0, max: 2 }), level: fc.integer({ min: 0, max: 2 }), frame }) },
  // Ranges probed frame by frame (up to 64 frames) or scanned (more), with ends on or next to
  // the frames of small entries at each level.
  { weight: 3, arbitrary: fc.record({ k: fc.constant('range' as const), d: fc.integer({ min: 0, max: 2 }), a: fc.oneof(fc.integer({ min: 0, max: 48 }), fc.integer({ min: 0, max: 400 })), n: fc.oneof(fc.integer({ min: 1, max: 8 }), fc.integer({ min: 60, max: 600 }), fc.integer({ min: 1, max: 2 ** 20 })) }) },
  // A range with one end on a cached entry's first or last frame (picked when the step runs),
  // short (probed) or long (scanned).
  { weight: 2, arbitrary: fc.record({ k: fc.constant('edge' as const), pick: fc.nat(), edge: fc.constantFrom('starts-at', 'starts-after', 'ends-at', 'ends-after'), long: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('domain' as const), d: fc.integer({ min: 0, max: 2 }) }) },
);

/** What the cache holds, read off its slots: "d/level/frame" -> PTE. */
function contents(tlb: Iotlb): Map<string, number> {
  const held = new Map<string, number>();
  for (let s = 0; s < tlb.used; s++) {
    const d = tlb.slotDom[s];
    if (d !== undefined) held.set(key(d.id, tlb.slotLevel[s]!, tlb.slotFrame[s]!), tlb.slotPte[s]!);
  }
  return held;
}
const key = (d: number, l: number, f: number): string => `${d}/${l}/${f}`;

/** The range an 'edge' step stands for, given what is cached (none when nothing is). */
function edgeRange(mirror: Map<string, number>, step: Extract<Op, { k: 'edge' }>): Extract<Op, { k: 'range' }> | undefined {
  const keys = [...mirror.keys()];
  if (keys.length === 0) return undefined;
  const [d, l, f] = keys[step.pick % keys.length]!.split('/').map(Number) as [number, number, number];
  const span = SPAN[l]!;
  const n = (step.long ? 70 : 3) * span;
  const first = f * span; // the entry covers [first, first + span)
  const a = step.edge === 'starts-at' ? first : step.edge === 'starts-after' ? first + span : Math.max(0, (step.edge === 'ends-at' ? first : first + span) - n);
  return { k: 'range', d, a, n };
}

describe('FastIommu IOTLB structure', () => {
  // The mirror holds exactly what the cache must hold: an insert adds its entry and evicts one
  // other entry only when the cache is full (which one is the cache's choice); an invalidation
  // drops exactly the entries it covers, no more.
  it('holds exactly its entries (one eviction per insert when full, exact invalidation), for capacities 0..Infinity', () => {
    fc.assert(
      fc.property(fc.constantFrom(0, 1, 3, 8, 100, Number.POSITIVE_INFINITY), fc.array(op, { minLength: 1, maxLength: 300, size: 'large' }), (cap, ops) => {
        const tlb = new Iotlb(cap);
        const doms = [0, 1, 2].map((i) => new Domain(i, 10 + i, config));
        let mirror = new Map<string, number>();
        let pte = 1;
        for (const step of ops) {
          const o = step.k === 'edge' ? edgeRange(mirror, step) : step;
          if (o === undefined) continue;
          if (o.k === 'insert') {
            const d = doms[o.d]!;
            if (tlb.find(d.tag, o.level, o.frame) >= 0) continue; // the IOMMU inserts only after a miss
            const k = key(o.d, o.level, o.frame);
            expect(mirror.has(k)).toBe(false);
            tlb.insert(d, o.level, o.frame, ++pte);
            const held = contents(tlb);
            if (cap === 0) {
              expect(held.size).toBe(0);
            } else if (mirror.size < cap) {
              expect(held).toEqual(new Map([...mirror, [k, pte]]));
            } else {
              // Full: the new entry in, exactly one old entry out.
              expect(held.get(k)).toBe(pte);
              expect(held.size).toBe(cap);
              for (const [hk, hv] of held) if (hk !== k) expect(mirror.get(hk)).toBe(hv);
            }
            mirror = held;
          } else {
            const covered = (k: string): boolean => {
              const [d, l, f] = k.split('/').map(Number) as [number, number, number];
              if (d !== o.d) return false;
              return o.k === 'domain' || (f * SPAN[l]! < o.a + o.n && (f + 1) * SPAN[l]! > o.a);
            };
            if (o.k === 'range') tlb.invalidateRange(doms[o.d]!, o.a, o.a + o.n);
            else tlb.invalidateDomain(doms[o.d]!);
            mirror = new Map([...mirror].filter(([k]) => !covered(k)));
            expect(contents(tlb)).toEqual(mirror);
          }
          const problems: string[] = [];
          tlb.checkStructure(problems);
          expect(problems).toEqual([]);
          expect(tlb.size).toBe(mirror.size);
        }
        // Lookups find exactly the entries held; the per-level counts agree.
        for (const [k, v] of mirror) {
          const [d, l, f] = k.split('/').map(Number) as [number, number, number];
          expect(tlb.slotPte[tlb.find(doms[d]!.tag, l, f)]).toBe(v);
        }
        for (const d of doms)
          for (let l = 0; l < 3; l++) expect(d.tlbN[l]).toBe([...mirror.keys()].filter((k) => k.startsWith(`${d.id}/${l}/`)).length);
      }),
      { numRuns: 100 },
    );
  });
});
