// Packed radix page tables: one arena of 512-entry table pages in a Float64Array.
//
// Addresses inside this module are 4K page frame numbers (PFNs) held in plain Numbers: an IOVA
// of at most 57 bits (5 levels) is a PFN of at most 45 bits and a 52-bit PA is a PFN of at most
// 40 bits, both exact in a double. A PTE is one float64 holding an integer below 2^44:
//
//   leaf:  pfn * 16 + LEAF + VALID + prot        (prot: READ = 1, WRITE = 2)
//   table: index * 16 + VALID                      (index of the child table page in the arena)
//   empty: 0
//
// So a densely mapped 4K page costs 8 bytes (one PTE) plus 1/512 of its parent tables.
// `e & 15` extracts the flags exactly (ToInt32 reduces modulo 2^32, which keeps the low bits)
// and `e >>> 4` the table index (table indices are far below 2^28: that would be a 1 TiB arena).
// Levels are numbered from the leaves: level 0 entries map 4K, level 1 2M, level 2 1G, and a
// domain with L levels has its root at level L - 1.

export const PTE_PROT = 3;
export const PTE_VALID = 4;
export const PTE_LEAF = 8;
export const ENTRIES = 512;
/** Pages covered by one entry of a level-l table. */
export const SPAN: readonly number[] = [1, 512, 512 ** 2, 512 ** 3, 512 ** 4];
/** PFNs are below 2^40 (52-bit PA). */
export const PA_PFN_LIMIT = 2 ** 40;

export const leafPte = (pfn: number, prot: number): number => pfn * 16 + (PTE_LEAF | PTE_VALID | prot);
export const tablePte = (t: number): number => t * 16 + PTE_VALID;

/** Table pages in one growable arena, with a free list. Free pages are always all zero. */
export class TableArena {
  /** The PTEs: table t holds entries [t*512, t*512 + 512). Replaced (not resized) on growth. */
  pte: Float64Array;
  /** Valid entries per table page. */
  cnt: Uint16Array;
  /** Pages ever handed out (bump pointer). */
  top = 0;
  readonly free: number[] = [];

  constructor(initialPages = 16) {
    this.pte = new Float64Array(initialPages * ENTRIES);
    this.cnt = new Uint16Array(initialPages);
  }

  get capacityPages(): number {
    return this.cnt.length;
  }

  /** Table pages in use. */
  get used(): number {
    return this.top - this.free.length;
  }

  /** A zeroed table page. May replace `this.pte`: re-read it after calling. */
  alloc(): number {
    const t = this.free.pop();
    if (t !== undefined) return t;
    if (this.top === this.cnt.length) this.grow();
    return this.top++;
  }

  /** Gives back a table page; its entries must already be zero. */
  release(t: number): void {
    this.cnt[t] = 0;
    this.free.push(t);
  }

  /** Zeroes a table page and gives it back. */
  clearAndRelease(t: number): void {
    this.pte.fill(0, t * ENTRIES, t * ENTRIES + ENTRIES);
    this.release(t);
  }

  private grow(): void {
    const pages = this.cnt.length * 2;
    const pte = new Float64Array(pages * ENTRIES);
    pte.set(this.pte);
    const cnt = new Uint16Array(pages);
    cnt.set(this.cnt);
    this.pte = pte;
    this.cnt = cnt;
  }
}

const min = (x: number, y: number): number => (x < y ? x : y);
const max = (x: number, y: number): number => (x > y ? x : y);

/**
 * Whether any page of [a, b) is mapped below table `t` (level `l`, first PFN `tb`). Relies on
 * the invariant that no non-root table is empty, so a table entirely inside the range answers
 * at once: only the two boundary entries of each level are descended into.
 */
export function anyMapped(ar: TableArena, t: number, l: number, tb: number, a: number, b: number): boolean {
  const span = SPAN[l]!;
  const i0 = Math.floor((a - tb) / span);
  const i1 = Math.ceil((b - tb) / span);
  const pte = ar.pte;
  const base = t * ENTRIES;
  for (let i = i0; i < i1; i++) {
    const e = pte[base + i]!;
    if (e === 0) continue;
    if ((e & PTE_LEAF) !== 0) return true;
    const eb = tb + i * span;
    if (a <= eb && eb + span <= b) return true;
    if (anyMapped(ar, e >>> 4, l - 1, eb, max(a, eb), min(b, eb + span))) return true;
  }
  return false;
}

/**
 * Maps [a, b) to PFN a + delta with `prot`, greedily with the largest allowed leaf
 * (`leafOk[l]`) whose IOVA range fits and whose PA is aligned. The range must be unmapped.
 */
export function mapRange(
  ar: TableArena,
  t: number,
  l: number,
  tb: number,
  a: number,
  b: number,
  delta: number,
  prot: number,
  leafOk: readonly boolean[],
): void {
  const span = SPAN[l]!;
  const i0 = Math.floor((a - tb) / span);
  const i1 = Math.ceil((b - tb) / span);
  const base = t * ENTRIES;
  for (let i = i0; i < i1; i++) {
    const eb = tb + i * span;
    const ee = eb + span;
    if (a <= eb && ee <= b && leafOk[l] === true && (eb + delta) % span === 0) {
      ar.pte[base + i] = leafPte(eb + delta, prot);
      ar.cnt[t]!++;
      continue;
    }
    let e = ar.pte[base + i]!;
    let child: number;
    if (e === 0) {
      child = ar.alloc(); // may replace ar.pte
      ar.pte[base + i] = tablePte(child);
      ar.cnt[t]!++;
    } else {
      child = e >>> 4;
    }
    mapRange(ar, child, l - 1, eb, max(a, eb), min(b, ee), delta, prot, leafOk);
  }
}

/**
 * Unmaps every mapped page of [a, b) below table `t`, splitting leaves that are cut, freeing
 * tables that become empty (except `t` itself). Returns the number of pages that were mapped.
 */
export function unmapRange(ar: TableArena, t: number, l: number, tb: number, a: number, b: number): number {
  const span = SPAN[l]!;
  const i0 = Math.floor((a - tb) / span);
  const i1 = Math.ceil((b - tb) / span);
  const base = t * ENTRIES;
  let pages = 0;
  for (let i = i0; i < i1; i++) {
    const e = ar.pte[base + i]!;
    if (e === 0) continue;
    const eb = tb + i * span;
    const ee = eb + span;
    if (a <= eb && ee <= b) {
      if ((e & PTE_LEAF) !== 0) {
        pages += span;
      } else {
        pages += unmapRange(ar, e >>> 4, l - 1, eb, eb, ee);
        ar.release(e >>> 4);
      }
      ar.pte[base + i] = 0;
      ar.cnt[t]!--;
      continue;
    }
    let child: number;
    if ((e & PTE_LEAF) !== 0) {
      // Split the leaf into 512 leaves of the next level down, then unmap inside them.
      child = ar.alloc();
      const pte = ar.pte;
      const sub = SPAN[l - 1]!;
      const flags = e & 15;
      const pfn = (e - flags) / 16;
      const cb = child * ENTRIES;
      for (let j = 0; j < ENTRIES; j++) pte[cb + j] = (pfn + j * sub) * 16 + flags;
      ar.cnt[child] = ENTRIES;
      pte[base + i] = tablePte(child);
    } else {
      child = e >>> 4;
    }
    pages += unmapRange(ar, child, l - 1, eb, max(a, eb), min(b, ee));
    if (ar.cnt[child] === 0) {
      ar.release(child);
      ar.pte[base + i] = 0;
      ar.cnt[t]!--;
    }
  }
  return pages;
}

/** Frees every table below `t` (and `t` itself), zeroing them. */
export function freeTree(ar: TableArena, t: number, l: number): void {
  if (l > 0 && ar.cnt[t] !== 0) {
    const base = t * ENTRIES;
    for (let i = 0; i < ENTRIES; i++) {
      const e = ar.pte[base + i]!;
      if (e !== 0 && (e & PTE_LEAF) === 0) freeTree(ar, e >>> 4, l - 1);
    }
  }
  ar.clearAndRelease(t);
}

/** Calls `f(level, firstPfn, pte)` for every leaf overlapping [a, b), in IOVA order. */
export function forEachLeaf(
  ar: TableArena,
  t: number,
  l: number,
  tb: number,
  a: number,
  b: number,
  f: (level: number, first: number, e: number) => void,
): void {
  const span = SPAN[l]!;
  const i0 = Math.max(0, Math.floor((a - tb) / span));
  const i1 = Math.min(ENTRIES, Math.ceil((b - tb) / span));
  const base = t * ENTRIES;
  for (let i = i0; i < i1; i++) {
    const e = ar.pte[base + i]!;
    if (e === 0) continue;
    const eb = tb + i * span;
    if ((e & PTE_LEAF) !== 0) f(l, eb, e);
    else if (l > 0) forEachLeaf(ar, e >>> 4, l - 1, eb, max(a, eb), min(b, eb + span), f);
  }
}
