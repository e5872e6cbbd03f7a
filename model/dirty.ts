// One paging domain's dirty record (CONTRACT.md, "Dirty tracking"): which pages a readDirty must
// report, and which it may. Pages are 4K page numbers. Hardware keeps one dirty bit per leaf and a
// leaf may be 2M or 1G, so the rules leave latitude around written pages; the record states it.
import { PAGE_SIZE } from './types.ts';

const BLOCK_SIZES_OVER_4K = (pageSizes: readonly bigint[]): bigint[] => pageSizes.filter((s) => s > PAGE_SIZE).map((s) => s / PAGE_SIZE);

/** A range of pages [first, first + count). */
interface PageRange {
  readonly first: bigint;
  readonly count: bigint;
}

const inRange = (p: bigint, r: PageRange): boolean => p >= r.first && p < r.first + r.count;

/** `r` without the pages of `cut`: zero, one or two ranges. */
function without(r: PageRange, cut: PageRange): PageRange[] {
  const end = r.first + r.count;
  const cutEnd = cut.first + cut.count;
  if (cutEnd <= r.first || cut.first >= end) return [r];
  return [
    ...(cut.first > r.first ? [{ first: r.first, count: cut.first - r.first }] : []),
    ...(cutEnd < end ? [{ first: cutEnd, count: end - cutEnd }] : []),
  ];
}

export class DirtyLog {
  /** "Tracking starts disabled." */
  tracking = false;
  /** Pages that must be reported: written while tracking through a current translation, not unmapped since. */
  private readonly required = new Set<bigint>();
  /** Pages that may be reported for their own write: written while tracking was off, or through a stale translation. */
  private readonly mayOwn = new Set<bigint>();
  /** Every page written since its last clear (tracking on or off, unmapped since or not): the blocks around them may be reported. */
  private readonly written = new Set<bigint>();
  /** Pages of blocks that a clear cut, outside its range, not cleared since: they may be reported or not. */
  private cut: PageRange[] = [];

  constructor(private readonly pageSizes: readonly bigint[]) {}

  /**
   * A successful write at this page. "A page must be reported if, since the last readDirty with
   * clear over it, a 'write' translation ... succeeded at that page while tracking was enabled";
   * "a page written since its last clear while tracking was disabled" may be; "A write answered
   * from a stale translation ... may be reported, and need not be."
   */
  wrote(page: bigint, current: boolean): void {
    this.written.add(page);
    if (this.tracking && current) this.required.add(page);
    else this.mayOwn.add(page);
  }

  /** "... and the page has not been unmapped since": no longer required (nor allowed for that write). */
  unmapped(first: bigint, count: bigint): void {
    for (const p of this.required) if (inRange(p, { first, count })) this.required.delete(p);
  }

  /** The pages of the range that must be reported, ascending. */
  requiredIn(first: bigint, count: bigint): bigint[] {
    return [...this.required].filter((p) => inRange(p, { first, count })).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  }

  /**
   * Whether a page may be reported: it must be; or it was written while tracking was off or
   * through a stale translation; or "a page that is not mapped"; or "any page that shares a
   * naturally aligned block of a page size in the domain's pageSizes (2M or 1G) with a page
   * written since its last clear (tracking enabled or not; an unmap in between does not end this
   * latitude)"; or it lies in a block that a clear cut ("those pages may then be reported or not").
   */
  mayReport(page: bigint, mapped: boolean): boolean {
    return this.reportable()(page, () => mapped);
  }

  /** mayReport for many pages of one answer: the blocks around written pages computed once. */
  reportable(): (page: bigint, mapped: () => boolean) => boolean {
    const blocks = this.blockSizes().map((pages) => ({ pages, around: new Set([...this.written].map((w) => w / pages)) }));
    // A whole 2M block is often reported at once: its block latitude is looked up once.
    const byBlock = new Map<bigint, boolean>();
    const inWrittenBlock = (page: bigint): boolean => {
      const key = page >> 9n;
      let allowed = byBlock.get(key);
      if (allowed === undefined) byBlock.set(key, (allowed = blocks.some((b) => b.around.has(page / b.pages))));
      return allowed;
    };
    return (page, mapped) =>
      inWrittenBlock(page) || this.required.has(page) || this.mayOwn.has(page) || this.cut.some((r) => inRange(page, r)) || !mapped();
  }

  /**
   * readDirty with clear: "the dirty state of every page of the range is cleared". "A clear may
   * also clear pages outside its range but within such a block that it cuts: those pages may then
   * be reported or not": they are no longer required, and may be reported until their own clear.
   */
  clear(first: bigint, count: bigint): void {
    const range = { first, count };
    for (const set of [this.written, this.required, this.mayOwn]) for (const p of [...set]) if (inRange(p, range)) set.delete(p);
    this.cut = this.cut.flatMap((r) => without(r, range));
    for (const pages of this.blockSizes()) {
      for (const block of new Set([first / pages, (first + count - 1n) / pages])) {
        const whole = { first: block * pages, count: pages };
        const outside = without(whole, range);
        if (outside.length === 0) continue; // not cut: the range holds the whole block
        this.cut.push(...outside);
        for (const p of [...this.required]) if (inRange(p, whole)) this.required.delete(p);
      }
    }
  }

  private blockSizes(): bigint[] {
    return BLOCK_SIZES_OVER_4K(this.pageSizes);
  }
}
