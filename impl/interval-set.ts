// A list of half-open PFN ranges [a, b), held in two plain number arrays (no object per range).
// Two uses, each keeping its own order:
// - a deferred domain's flush queue: ranges in the order they were unmapped, the last one widened
//   while unmaps stay next to it (push, mergeLast);
// - a 'whole' domain's map extents: sorted by start and disjoint (insertSorted, the two
//   searches, removeRange).
export class IntervalSet {
  /** Range i is [starts[i], ends[i]). */
  private readonly starts: number[] = [];
  private readonly ends: number[] = [];

  /** Ranges held. */
  get size(): number {
    return this.starts.length;
  }

  start(i: number): number {
    return this.starts[i]!;
  }

  end(i: number): number {
    return this.ends[i]!;
  }

  /** Appends [a, b) as the last range. */
  push(a: number, b: number): void {
    this.starts.push(a);
    this.ends.push(b);
  }

  /** Widens the last range to cover [a, b) too, if the two overlap or touch; whether it did. */
  mergeLast(a: number, b: number): boolean {
    const n = this.starts.length - 1;
    if (n < 0 || this.ends[n]! < a || this.starts[n]! > b) return false;
    if (a < this.starts[n]!) this.starts[n] = a;
    if (b > this.ends[n]!) this.ends[n] = b;
    return true;
  }

  /** Inserts [a, b) before the first range that starts at or after `a` (ranges sorted by start). */
  insertSorted(a: number, b: number): void {
    const i = this.firstStartingAtOrAfter(a);
    if (i === this.starts.length) {
      this.push(a, b);
    } else {
      this.starts.splice(i, 0, a);
      this.ends.splice(i, 0, b);
    }
  }

  /** The first range that ends after `pfn`, or `size` (ranges sorted and disjoint). */
  firstEndingAfter(pfn: number): number {
    return firstAbove(this.ends, pfn);
  }

  /** The first range that starts at or after `pfn`, or `size` (ranges sorted by start). */
  firstStartingAtOrAfter(pfn: number): number {
    return firstAbove(this.starts, pfn - 1); // PFNs are integers
  }

  /** Removes ranges i .. j - 1. */
  removeRange(i: number, j: number): void {
    this.starts.splice(i, j - i);
    this.ends.splice(i, j - i);
  }

  clear(): void {
    this.starts.length = 0;
    this.ends.length = 0;
  }

  /** Whether [a, b) lies inside the union of the ranges, whatever their order (for self-checks). */
  covers(a: number, b: number): boolean {
    const order = this.starts.map((_, i) => i).sort((x, y) => this.starts[x]! - this.starts[y]!);
    let at = a;
    for (const i of order) {
      if (this.starts[i]! > at) break;
      if (this.ends[i]! > at) at = this.ends[i]!;
      if (at >= b) return true;
    }
    return false;
  }
}

/** The first index i with xs[i] > x, or xs.length (xs sorted ascending): a binary search. */
function firstAbove(xs: readonly number[], x: number): number {
  let lo = 0;
  let hi = xs.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (xs[mid]! > x) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}
