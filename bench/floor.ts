// What the translate benchmarks share: a deterministic PRNG and the floor, a bare typed-array
// lookup with the same bigint conversions and result object as a translation (no IOMMU).
import type { Translation } from '../model/types.ts';

/** Deterministic PRNG (mulberry32). */
export function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The floor: per request, `Number(iova >> 12n)`, a Float64Array read, `BigInt(...)`, a result object. */
export function makeFloor(): (device: number, pasid: number | null, iova: bigint, access: string) => Translation {
  // Filled: an untouched array would read the shared zero page and never miss the cache.
  const table = new Float64Array(1 << 20);
  for (let i = 0; i < table.length; i++) table[i] = (i * 7919) % (1 << 28);
  return (_device, _pasid, iova, _access) => {
    const pfn = Number(iova >> 12n);
    return { ok: true, pa: BigInt(table[pfn & 0xfffff]! * 4096 + Number(iova & 0xfffn)) };
  };
}
