// The IOTLB: a bounded, fully associative cache of leaf translations.
//
// An entry is (domain tag, level, frame at that level's granularity) -> the leaf PTE. Entries
// live in numbered slots; each domain indexes its own entries per level (frame -> slot), so the
// domain object is the tag and two domains can never share an entry. When every slot is taken,
// the slot under a round-robin hand is evicted (FIFO over slots); slots freed by invalidation
// are reused first. Capacity 0 disables the cache; Infinity never evicts.
import type { Domain } from './domain.ts';
import { SPAN } from './pagetable.ts';

export class Iotlb {
  /** Per slot: owning domain (undefined when free), level, frame and the cached leaf PTE. */
  readonly slotDom: (Domain | undefined)[] = [];
  readonly slotTag: number[] = [];
  readonly slotLevel: number[] = [];
  readonly slotFrame: number[] = [];
  readonly slotPte: number[] = [];
  readonly freeSlots: number[] = [];
  private hand = 0;
  hits = 0;
  misses = 0;
  fills = 0;
  evictions = 0;
  invalidatedEntries = 0;

  constructor(readonly capacity: number) {}

  get size(): number {
    return this.slotDom.length - this.freeSlots.length;
  }

  /** Caches the leaf `pte` of domain `d` at `level` covering frame `frame`. */
  insert(d: Domain, level: number, frame: number, pte: number): void {
    const cap = this.capacity;
    if (cap === 0) return;
    let s = this.freeSlots.pop();
    if (s === undefined) {
      if (this.slotDom.length < cap) {
        s = this.slotDom.length;
        this.slotDom.push(undefined);
        this.slotTag.push(0);
        this.slotLevel.push(0);
        this.slotFrame.push(0);
        this.slotPte.push(0);
      } else {
        s = this.hand;
        this.hand = s + 1 === cap ? 0 : s + 1;
        const old = this.slotDom[s]!;
        old.tlbs[this.slotLevel[s]!]!.delete(this.slotFrame[s]!);
        this.evictions++;
      }
    }
    this.slotDom[s] = d;
    this.slotTag[s] = d.tag;
    this.slotLevel[s] = level;
    this.slotFrame[s] = frame;
    this.slotPte[s] = pte;
    d.tlbs[level]!.set(frame, s);
    this.fills++;
  }

  private drop(m: Map<number, number>, frame: number, s: number): void {
    m.delete(frame);
    this.slotDom[s] = undefined;
    this.freeSlots.push(s);
    this.invalidatedEntries++;
  }

  /** Invalidates every entry of `d` overlapping the PFN range [a, b), at every level. */
  invalidateRange(d: Domain, a: number, b: number): void {
    for (let l = 0; l < 3; l++) {
      const m = d.tlbs[l]!;
      if (m.size === 0) continue;
      const span = SPAN[l]!;
      const f0 = Math.floor(a / span);
      const f1 = Math.ceil(b / span);
      if (f1 - f0 <= m.size) {
        for (let f = f0; f < f1; f++) {
          const s = m.get(f);
          if (s !== undefined) this.drop(m, f, s);
        }
      } else {
        for (const [f, s] of m) if (f >= f0 && f < f1) this.drop(m, f, s);
      }
    }
  }

  /** Invalidates every entry of `d` (by tag). */
  invalidateDomain(d: Domain): void {
    for (const m of d.tlbs) for (const [f, s] of m) this.drop(m, f, s);
  }

  /** Invalidates everything. */
  invalidateAll(): void {
    for (let s = 0; s < this.slotDom.length; s++) {
      const d = this.slotDom[s];
      if (d !== undefined) this.drop(d.tlbs[this.slotLevel[s]!]!, this.slotFrame[s]!, s);
    }
  }
}
