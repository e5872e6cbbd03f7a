// The IOTLB's hash table and slot bookkeeping against a plain Map, under random inserts,
// lookups and invalidations (ranges, domains), with evictions.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Domain } from '../impl/domain.ts';
import { Iotlb } from '../impl/iotlb.ts';
import { SPAN } from '../impl/pagetable.ts';

const config = { type: 'paging', levels: 4, pageSizes: [0x1000n, 0x20_0000n, 0x4000_0000n], invalidation: 'strict', unmap: 'split', aperture: 1n << 48n } as const;

type Op =
  | { k: 'insert'; d: number; level: number; frame: number }
  | { k: 'range'; d: number; a: number; n: number }
  | { k: 'domain'; d: number };

const frame = fc.oneof(fc.integer({ min: 0, max: 300 }), fc.integer({ min: 0, max: 2 ** 45 - 1 }));
const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 8, arbitrary: fc.record({ k: fc.constant('insert' as const), d: fc.integer({ min: 0, max: 2 }), level: fc.integer({ min: 0, max: 2 }), frame }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('range' as const), d: fc.integer({ min: 0, max: 2 }), a: fc.integer({ min: 0, max: 400 }), n: fc.oneof(fc.integer({ min: 1, max: 8 }), fc.integer({ min: 1, max: 2 ** 20 })) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('domain' as const), d: fc.integer({ min: 0, max: 2 }) }) },
);

describe('FastIommu IOTLB structure', () => {
  it('agrees with a Map and keeps its structure, for capacities 1..Infinity', () => {
    fc.assert(
      fc.property(fc.constantFrom(1, 3, 8, 100, Number.POSITIVE_INFINITY), fc.array(op, { minLength: 1, maxLength: 300 }), (cap, ops) => {
        const tlb = new Iotlb(cap);
        const doms = [0, 1, 2].map((i) => new Domain(i, 10 + i, config));
        const model = new Map<string, number>(); // "d/level/frame" -> pte
        const key = (d: number, l: number, f: number): string => `${d}/${l}/${f}`;
        let pte = 1;
        for (const o of ops) {
          if (o.k === 'insert') {
            const d = doms[o.d]!;
            if (tlb.find(d.tag, o.level, o.frame) >= 0) continue; // the IOMMU inserts only after a miss
            tlb.insert(d, o.level, o.frame, ++pte);
            model.set(key(o.d, o.level, o.frame), pte);
          } else if (o.k === 'range') {
            tlb.invalidateRange(doms[o.d]!, o.a, o.a + o.n);
            for (const k of [...model.keys()]) {
              const [d, l, f] = k.split('/').map(Number) as [number, number, number];
              if (d === o.d && f * SPAN[l]! < o.a + o.n && (f + 1) * SPAN[l]! > o.a) model.delete(k);
            }
          } else {
            tlb.invalidateDomain(doms[o.d]!);
            for (const k of [...model.keys()]) if (k.startsWith(`${o.d}/`)) model.delete(k);
          }
          const problems: string[] = [];
          tlb.checkStructure(problems);
          expect(problems).toEqual([]);
          // Every entry the cache holds is in the model with the same PTE (evictions may drop some).
          let held = 0;
          for (let s = 0; s < tlb.used; s++) {
            const d = tlb.slotDom[s];
            if (d === undefined) continue;
            held++;
            expect(model.get(key(d.id, tlb.slotLevel[s]!, tlb.slotFrame[s]!))).toBe(tlb.slotPte[s]);
          }
          expect(held).toBe(tlb.size);
          expect(tlb.size).toBeLessThanOrEqual(cap);
          if (cap === Number.POSITIVE_INFINITY) expect(tlb.size).toBe(model.size);
          for (const d of doms) {
            let n = 0;
            for (let s = 0; s < tlb.used; s++) if (tlb.slotDom[s] === d) n++;
            expect(d.tlbN[0]! + d.tlbN[1]! + d.tlbN[2]!).toBe(n);
          }
        }
      }),
      { numRuns: 150 },
    );
  });
});
