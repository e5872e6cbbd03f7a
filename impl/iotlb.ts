// The IOTLB: a bounded, fully associative cache of leaf translations, in typed arrays.
//
// An entry is keyed by (domain tag, level, frame at that level's granularity) and holds the leaf
// PTE. The tag is the domain's hardware tag (like a VT-d DID or an SMMU ASID), allocated at
// createDomain and never reused, so two domains never share an entry, and a re-created domain id
// never sees its predecessor's. Entries live in numbered slots; an open-addressing hash table
// (linear probing, backward-shift deletion, load factor <= 1/2) maps keys to slots. When every
// slot is taken, the slot under a round-robin hand is evicted (FIFO over slots); slots freed by
// invalidation are reused first. Capacity 0 disables the cache; Infinity never evicts (the arrays
// grow instead). Each domain counts its entries per level, so that lookups skip empty levels and
// domain invalidation costs nothing for a domain with nothing cached.
//
// v2, nested domains: an entry of a nested domain caches the *combined* stage-1 + stage-2
// translation (IOVA -> PA, with both stages' permissions ANDed), keyed like any entry (by the
// nested domain's tag, level and IOVA frame), so the hit path is the same for every domain. Its
// level is the smaller of the two leaves'. The entry also records the IPA frame (in 4K pages) its
// IOVA frame went through, so that a stage-2 invalidation of an IPA range finds exactly the
// combined entries it makes stale (invalidateNestedRange), as VT-d's and SMMUv3's combined TLB
// entries are invalidated by IPA; a domain-wide invalidation of each child stays available for
// when that is cheaper (invalidateDomain). Each parent counts its children's entries, so that a
// parent with nothing cached through it skips all of that.
//
// v2, dirty tracking: each entry also remembers whether the leaf it caches was dirty (for a combined
// entry: the stage-2 leaf, whose dirty bit records the write), as hardware's IOTLB caches the D
// bit. A write hit on an entry marked dirty needs nothing more; on a clean one, FastIommu goes to
// the table, sets the leaf's bit and marks the entry (markDirty). The mark is why a clear of dirty
// bits must invalidate the entries of the leaves it cleared (invalidateRange and
// invalidateNestedRange with `onlyDirty`): a mark left behind would hide the next write.
//
// The slot arrays and the hash table are private: FastIommu reads a hit's PTE through pteAt and
// the self-check reads the entries through forEachEntry. Only the self-check's tests reach the
// private fields (by a cast), to corrupt them on purpose.
import type { Domain } from './domain.ts';
import { SPAN } from './pagetable.ts';

/** Ranges of at most this many frames are invalidated by probing; larger ones by a scan. */
const PROBE_LIMIT = 64;

export class Iotlb {
  /** Slots allocated (array length) and handed out (bump pointer). */
  private nslots = 0;
  private used = 0;
  /**
   * Per slot: owner (undefined when free), tag, level, frame, cached PTE, home bucket, and for a
   * nested domain's combined entry the first IPA page (4K frame) it translates through (-1 else).
   */
  private readonly slotDom: (Domain | undefined)[] = [];
  private slotTag: Float64Array = new Float64Array(0);
  private slotLevel: Uint8Array = new Uint8Array(0);
  private slotFrame: Float64Array = new Float64Array(0);
  private slotPte: Float64Array = new Float64Array(0);
  private slotHome: Int32Array = new Int32Array(0);
  private slotIpa: Float64Array = new Float64Array(0);
  /** v2: 1 when the entry's leaf was dirty (set at the fill, or by markDirty), else 0. */
  private slotDirty: Uint8Array = new Uint8Array(0);
  /** Hash buckets: slot + 1, or 0 when empty. */
  private buckets: Int32Array = new Int32Array(2);
  private mask = 1;
  /** 32 - log2(buckets). */
  private shift = 31;
  private readonly freeSlots: number[] = [];
  private hand = 0;
  hits = 0;
  misses = 0;
  fills = 0;
  evictions = 0;
  invalidatedEntries = 0;

  constructor(readonly capacity: number) {}

  /** Entries held. */
  get size(): number {
    return this.used - this.freeSlots.length;
  }

  /** The bucket a key starts probing from. */
  hash(tag: number, level: number, frame: number): number {
    const lo = frame >>> 0; // frame mod 2^32 (frames are integers below 2^45)
    const hi = (frame - lo) / 4294967296;
    // Fibonacci hashing: the top bits of a multiplicative hash.
    return Math.imul(lo ^ Math.imul(hi ^ (level << 16) ^ tag, 0x85ebca6b), 0x9e3779b1) >>> this.shift;
  }

  /** The slot caching (tag, level, frame), or -1. */
  find(tag: number, level: number, frame: number): number {
    const b = this.buckets;
    const mask = this.mask;
    let i = this.hash(tag, level, frame);
    for (;;) {
      const v = b[i]!;
      if (v === 0) return -1;
      const s = v - 1;
      if (this.slotFrame[s] === frame && this.slotLevel[s] === level && this.slotTag[s] === tag) return s;
      i = (i + 1) & mask;
    }
  }

  /** The PTE cached in slot `s` (a slot that `find` returned). */
  pteAt(s: number): number {
    return this.slotPte[s]!;
  }

  /** v2: whether slot `s` remembers its leaf as dirty (1) or not (0). */
  dirtyAt(s: number): number {
    return this.slotDirty[s]!;
  }

  /** v2: slot `s`'s leaf is now dirty. */
  markDirty(s: number): void {
    this.slotDirty[s] = 1;
  }

  /** The level of slot `s`, and the first IPA page of its combined entry (-1 for others). */
  levelAt(s: number): number {
    return this.slotLevel[s]!;
  }

  ipaAt(s: number): number {
    return this.slotIpa[s]!;
  }

  /**
   * Calls `fn` with each entry held: its slot, domain, level, frame, cached PTE, the first IPA
   * page of a combined entry (-1 for others), and whether it remembers its leaf as dirty.
   */
  forEachEntry(fn: (slot: number, d: Domain, level: number, frame: number, pte: number, ipa: number, dirty: boolean) => void): void {
    for (let s = 0; s < this.used; s++) {
      const d = this.slotDom[s];
      if (d !== undefined) fn(s, d, this.slotLevel[s]!, this.slotFrame[s]!, this.slotPte[s]!, this.slotIpa[s]!, this.slotDirty[s] === 1);
    }
  }

  /**
   * Caches the leaf `pte` of domain `d` at `level` covering frame `frame` (not cached yet); for a
   * nested domain, the combined leaf and `ipa`, the first IPA page it went through (else -1).
   * `pte` is a plain PTE (no dirty bit); `dirty` says whether the leaf was dirty (v2).
   */
  insert(d: Domain, level: number, frame: number, pte: number, ipa = -1, dirty = false): void {
    const cap = this.capacity;
    if (cap === 0) return;
    let s = this.freeSlots.pop();
    if (s === undefined) {
      if (this.used === this.nslots && this.nslots < cap) this.grow();
      if (this.used < this.nslots) {
        s = this.used++;
      } else {
        s = this.hand;
        this.hand = s + 1 === this.nslots ? 0 : s + 1;
        this.remove(s);
        this.evictions++;
      }
    }
    const home = this.hash(d.tag, level, frame);
    this.slotDom[s] = d;
    this.slotTag[s] = d.tag;
    this.slotLevel[s] = level;
    this.slotFrame[s] = frame;
    this.slotPte[s] = pte;
    this.slotHome[s] = home;
    this.slotIpa[s] = ipa;
    this.slotDirty[s] = dirty ? 1 : 0;
    const b = this.buckets;
    let i = home;
    while (b[i] !== 0) i = (i + 1) & this.mask;
    b[i] = s + 1;
    d.tlbN[level]!++;
    if (d.parent !== null) d.parent.childTlbEntries++;
    this.fills++;
  }

  /** Takes slot `s` out of the hash table and its domain's count (the slot is not freed). */
  private remove(s: number): void {
    const b = this.buckets;
    const mask = this.mask;
    let i = this.slotHome[s]!;
    while (b[i] !== s + 1) i = (i + 1) & mask;
    // Backward-shift deletion: pull later entries of the probe run into the hole when their
    // home bucket does not lie cyclically in (hole, their bucket].
    let j = i;
    for (;;) {
      j = (j + 1) & mask;
      const v = b[j]!;
      if (v === 0) break;
      const k = this.slotHome[v - 1]!;
      const stays = i <= j ? i < k && k <= j : i < k || k <= j;
      if (!stays) {
        b[i] = v;
        i = j;
      }
    }
    b[i] = 0;
    const d = this.slotDom[s]!;
    d.tlbN[this.slotLevel[s]!]!--;
    if (d.parent !== null) d.parent.childTlbEntries--;
    this.slotDom[s] = undefined;
  }

  /** Invalidates the entry in slot `s`. */
  private drop(s: number): void {
    this.remove(s);
    this.freeSlots.push(s);
    this.invalidatedEntries++;
  }

  private grow(): void {
    const n = Math.min(this.capacity, Math.max(64, this.nslots * 2));
    const copyF = (a: Float64Array): Float64Array => {
      const x = new Float64Array(n);
      x.set(a);
      return x;
    };
    this.slotTag = copyF(this.slotTag);
    this.slotFrame = copyF(this.slotFrame);
    this.slotPte = copyF(this.slotPte);
    this.slotIpa = copyF(this.slotIpa);
    const level = new Uint8Array(n);
    level.set(this.slotLevel);
    this.slotLevel = level;
    const dirty = new Uint8Array(n);
    dirty.set(this.slotDirty);
    this.slotDirty = dirty;
    this.slotHome = new Int32Array(n);
    this.nslots = n;
    let nb = 2;
    let bits = 1;
    while (nb < 2 * n) {
      nb *= 2;
      bits++;
    }
    this.buckets = new Int32Array(nb);
    this.mask = nb - 1;
    this.shift = 32 - bits;
    for (let s = 0; s < this.used; s++) {
      if (this.slotDom[s] === undefined) continue;
      const home = this.hash(this.slotTag[s]!, this.slotLevel[s]!, this.slotFrame[s]!);
      this.slotHome[s] = home;
      let i = home;
      while (this.buckets[i] !== 0) i = (i + 1) & this.mask;
      this.buckets[i] = s + 1;
    }
  }

  /**
   * Invalidates every entry of `d` overlapping the PFN range [a, b), at every level; with
   * `onlyDirty` (v2, a clear of dirty bits), only those that remember their leaf as dirty.
   */
  invalidateRange(d: Domain, a: number, b: number, onlyDirty = false): void {
    const keep = onlyDirty ? 0 : 2; // slotDirty is 0 or 1: never 2
    for (let l = 0; l < 3; l++) {
      if (d.tlbN[l] === 0) continue;
      const span = SPAN[l]!;
      const f0 = Math.floor(a / span);
      const f1 = Math.ceil(b / span);
      if (f1 - f0 <= PROBE_LIMIT) {
        for (let f = f0; f < f1; f++) {
          const s = this.find(d.tag, l, f);
          if (s >= 0 && this.slotDirty[s] !== keep) this.drop(s);
        }
      } else {
        for (let s = 0; s < this.used && d.tlbN[l] !== 0; s++) {
          if (this.slotDom[s] === d && this.slotLevel[s] === l && this.slotDirty[s] !== keep) {
            const f = this.slotFrame[s]!;
            if (f >= f0 && f < f1) this.drop(s);
          }
        }
      }
    }
  }

  /**
   * Stage-2 invalidation: every combined entry of a nested domain over `parent` whose IPA range
   * overlaps the IPA page range [a, b). One scan of the slots (the entries are keyed by IOVA, not
   * by IPA), stopping once the parent's children have no entry left. With `onlyDirty` (v2, a
   * clear of the parent's dirty bits), only the entries that remember the stage-2 leaf as dirty.
   */
  invalidateNestedRange(parent: Domain, a: number, b: number, onlyDirty = false): void {
    const keep = onlyDirty ? 0 : 2;
    for (let s = 0; s < this.used && parent.childTlbEntries !== 0; s++) {
      const d = this.slotDom[s];
      if (d === undefined || d.parent !== parent || this.slotDirty[s] === keep) continue;
      const ipa = this.slotIpa[s]!;
      if (ipa < b && ipa + SPAN[this.slotLevel[s]!]! > a) this.drop(s);
    }
  }

  /** Invalidates every entry of `d` (by tag). */
  invalidateDomain(d: Domain): void {
    if (d.tlbN[0] === 0 && d.tlbN[1] === 0 && d.tlbN[2] === 0) return;
    for (let s = 0; s < this.used; s++) if (this.slotDom[s] === d) this.drop(s);
  }

  /** Problems of the structure itself (slot bookkeeping and hash table), for checkInvariants. */
  checkStructure(problems: string[]): void {
    if (this.size > this.capacity) problems.push(`iotlb: ${this.size} entries for capacity ${this.capacity}`);
    if (this.used > this.nslots) problems.push('iotlb: slots handed out beyond the arrays');
    // The counters of stats() account for every entry: filled, then evicted or invalidated.
    if (this.fills - this.evictions - this.invalidatedEntries !== this.size)
      problems.push(`iotlb: ${this.fills} fills - ${this.evictions} evictions - ${this.invalidatedEntries} invalidated != ${this.size} entries`);
    const free = new Set(this.freeSlots);
    if (free.size !== this.freeSlots.length) problems.push('iotlb: a slot is twice in the free list');
    let live = 0;
    for (let s = 0; s < this.used; s++) {
      const d = this.slotDom[s];
      if (d === undefined) {
        if (!free.has(s)) problems.push(`iotlb: slot ${s} empty but not free`);
        continue;
      }
      live++;
      if (free.has(s)) problems.push(`iotlb: slot ${s} used and free`);
      if (this.slotTag[s] !== d.tag) problems.push(`iotlb: slot ${s} tag ${this.slotTag[s]} is not its domain's ${d.tag}`);
      if (this.slotHome[s] !== this.hash(d.tag, this.slotLevel[s]!, this.slotFrame[s]!)) problems.push(`iotlb: slot ${s} home bucket is wrong`);
      if (this.find(d.tag, this.slotLevel[s]!, this.slotFrame[s]!) !== s) problems.push(`iotlb: slot ${s} not found by its key`);
    }
    let inBuckets = 0;
    for (let i = 0; i < this.buckets.length; i++) {
      const v = this.buckets[i]!;
      if (v === 0) continue;
      inBuckets++;
      if (v - 1 >= this.used || this.slotDom[v - 1] === undefined) problems.push(`iotlb: bucket ${i} points to a free slot`);
    }
    if (inBuckets !== live) problems.push(`iotlb: ${live} live slots, ${inBuckets} in the hash table`);
  }
}
