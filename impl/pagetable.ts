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
// v2, dirty tracking: the PFN is below 2^40, so a leaf's value is below 2^44 and bits 44..52 of
// the integer are spare. Bit 44 is the leaf's DIRTY bit (one per leaf, as in hardware), and bits
// 45..46 the level of its dirty block ("origin", only while dirty): the leaf's own level when a
// write set the bit, and the original leaf's level for the pieces of a split dirty leaf (they
// inherit the bit and the block). A clear that cuts such a block clears the pieces in it: the
// contract lets a clear clear the rest of a block of a page size that it cuts, and must, else a
// piece would stay dirty with no page of its block written since its last clear.
//
//   dirty leaf: leaf + 2^44 + origin * 2^45
//
// `plainPte(e)` is the PTE without those bits. Table entries never carry them.
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

/** The leaf's dirty bit (bit 44), and the unit of its 2-bit origin level (bits 45..46). */
export const PTE_DIRTY = 2 ** 44;
export const PTE_ORIGIN_UNIT = 2 ** 45;

/** The high part of a PTE (dirty bit and origin, as a multiple of 2^44), 0 for a clean one. */
export const pteHigh = (e: number): number => (e < PTE_DIRTY ? 0 : Math.floor(e / PTE_DIRTY) * PTE_DIRTY);
/** The PTE without the dirty bit and origin: the v1 PTE. */
export const plainPte = (e: number): number => (e < PTE_DIRTY ? e : e - Math.floor(e / PTE_DIRTY) * PTE_DIRTY);
/** The dirty leaf of plain leaf PTE `e`, with its dirty block at level `origin`. */
export const dirtyPte = (e: number, origin: number): number => e + PTE_DIRTY + origin * PTE_ORIGIN_UNIT;
/** The origin level of a dirty PTE. */
export const pteOrigin = (e: number): number => Math.floor(e / PTE_ORIGIN_UNIT) & 3;

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
      // A dirty leaf's pieces are all dirty, with the leaf's origin (its dirty block).
      const high = pteHigh(e);
      const flags = e & 15;
      const pfn = (e - high - flags) / 16;
      const cb = child * ENTRIES;
      for (let j = 0; j < ENTRIES; j++) pte[cb + j] = (pfn + j * sub) * 16 + flags + high;
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

/** What `scanDirty` cleared: the first and end PFN of the leaves whose dirty bit it cleared. */
export const cleared = { lo: Infinity, hi: -Infinity };

/**
 * readDirty's walk over [a, b) below table `t` (level `l`, first PFN `tb`): only the table pages
 * that exist are visited. For each dirty leaf overlapping the range whose origin is `origin` (any
 * origin when -1): if `out` is given, the IOVAs (bigint) of its 4K pages inside [a, b) are appended,
 * in order; if `clear`, its dirty bit and origin are cleared (a leaf that the range cuts, whole)
 * and its extent is added to `cleared`.
 */
export function scanDirty(ar: TableArena, t: number, l: number, tb: number, a: number, b: number, out: bigint[] | null, clear: boolean, origin: number): void {
  const span = SPAN[l]!;
  const i0 = Math.floor((a - tb) / span);
  const i1 = Math.ceil((b - tb) / span);
  const pte = ar.pte;
  const base = t * ENTRIES;
  for (let i = i0; i < i1; i++) {
    const e = pte[base + i]!;
    if (e === 0) continue;
    const eb = tb + i * span;
    if ((e & PTE_LEAF) === 0) {
      scanDirty(ar, e >>> 4, l - 1, eb, max(a, eb), min(b, eb + span), out, clear, origin);
      continue;
    }
    if (e < PTE_DIRTY || (origin >= 0 && pteOrigin(e) !== origin)) continue;
    if (out !== null) {
      const hi = min(b, eb + span);
      for (let p = max(a, eb); p < hi; p++) {
        const x = p * 4096;
        out.push(x < 9007199254740992 ? BigInt(x) : BigInt(p) * 4096n);
      }
    }
    if (clear) {
      pte[base + i] = plainPte(e);
      if (eb < cleared.lo) cleared.lo = eb;
      if (eb + span > cleared.hi) cleared.hi = eb + span;
    }
  }
}

/**
 * The leaf PTE of page (hi, lo) (PFN bits from 27 up, and 0..26) in the table of `levels` levels
 * at `root`, or 0; its level and its index in the arena go to `leafAt`.
 */
export const leafAt = { level: 0, index: -1 };
export function findLeaf(ar: TableArena, root: number, levels: number, hi: number, lo: number): number {
  const pte = ar.pte;
  let t = root;
  for (let l = levels - 1; l >= 0; l--) {
    const i = t * ENTRIES + (l >= 3 ? (hi >>> (9 * (l - 3))) & 511 : (lo >>> (9 * l)) & 511);
    const e = pte[i]!;
    if (e === 0) return 0;
    if ((e & PTE_LEAF) !== 0) {
      leafAt.level = l;
      leafAt.index = i;
      return e;
    }
    t = e >>> 4;
  }
  return 0;
}
