// One paging domain's I/O address space: an ordered list of extents (intervals), one per map
// call or per piece left by a split unmap, as crosvm's virtio-iommu memory_mapper keeps them.
// Mapping 1 GiB costs the same as mapping 4 KiB.

export interface Extent {
  readonly iova: bigint;
  readonly size: bigint;
  readonly pa: bigint;
  readonly prot: number;
}

const byIova = (a: Extent, b: Extent): number => (a.iova < b.iova ? -1 : a.iova > b.iova ? 1 : 0);
const end = (e: { iova: bigint; size: bigint }): bigint => e.iova + e.size;
/** Whether [iova, iova + size) shares a byte with `e` (an empty range shares none). */
const overlaps = (e: Extent, iova: bigint, size: bigint): boolean => size > 0n && e.iova < iova + size && iova < end(e);

/** The part of `e` that lies inside [iova, iova + size), with its PA shifted to match. */
function clip(e: Extent, iova: bigint, size: bigint): Extent | undefined {
  const from = e.iova > iova ? e.iova : iova;
  const to = end(e) < iova + size ? end(e) : iova + size;
  return from < to ? { iova: from, size: to - from, pa: e.pa + (from - e.iova), prot: e.prot } : undefined;
}

export class AddressSpace {
  private extents: Extent[] = [];

  /** Every extent, ordered by IOVA. */
  list(): readonly Extent[] {
    return this.extents;
  }

  /** The extent that maps the byte at `iova`, if any. */
  lookup(iova: bigint): Extent | undefined {
    return this.extents.find((e) => e.iova <= iova && iova < end(e));
  }

  /** Whether any page of [iova, iova + size) is mapped. */
  anyMapped(iova: bigint, size: bigint): boolean {
    return this.extents.some((e) => overlaps(e, iova, size));
  }

  /** How many bytes of [iova, iova + size) are mapped. */
  bytesMapped(iova: bigint, size: bigint): bigint {
    return this.extents.reduce((sum, e) => sum + (clip(e, iova, size)?.size ?? 0n), 0n);
  }

  /** Whether [iova, iova + size) cuts through an extent: overlaps it without holding all of it. */
  cutsThrough(iova: bigint, size: bigint): boolean {
    return this.extents.some((e) => overlaps(e, iova, size) && (e.iova < iova || end(e) > iova + size));
  }

  insert(extent: Extent): void {
    this.extents = [...this.extents, extent].sort(byIova);
  }

  /** Removes every mapped byte of [iova, iova + size); returns the pieces removed. */
  remove(iova: bigint, size: bigint): Extent[] {
    const removed: Extent[] = [];
    const kept: Extent[] = [];
    for (const e of this.extents) {
      const inside = clip(e, iova, size);
      if (inside === undefined) {
        kept.push(e);
        continue;
      }
      removed.push(inside);
      const before = clip(e, e.iova, iova - e.iova);
      const after = clip(e, iova + size, end(e) - (iova + size));
      if (before) kept.push(before);
      if (after) kept.push(after);
    }
    this.extents = kept.sort(byIova);
    return removed;
  }
}
