// One paging domain's dirty record (CONTRACT.md, "Dirty tracking"): which pages a readDirty must
// report, and which it may. Pages are 4K page numbers. Hardware keeps one dirty bit per leaf and a
// leaf may be 2M or 1G, so the rules leave latitude around written pages; the record states it.
import { PAGE_SIZE } from './types.ts';

const BLOCK_SIZES_OVER_4K = (pageSizes: readonly bigint[]): bigint[] => pageSizes.filter((s) => s > PAGE_SIZE).map((s) => s / PAGE_SIZE);

export class DirtyLog {
  /** "Tracking starts disabled." */
  tracking = false;
  /** Pages written since their last clear, by any successful write (tracking on or off, stale or not). */
  private readonly written = new Set<bigint>();
  /** Pages that must be reported: written while tracking through a current translation, not unmapped since. */
  private readonly required = new Set<bigint>();

  constructor(private readonly pageSizes: readonly bigint[]) {}

  /**
   * A successful write at this page. "A page must be reported if, since the last readDirty with
   * clear over it, a 'write' translation ... succeeded at that page while tracking was enabled";
   * "A write answered from a stale translation ... may be reported, and need not be."
   */
  wrote(page: bigint, current: boolean): void {
    this.written.add(page);
    if (this.tracking && current) this.required.add(page);
  }

  /** "... and the page has not been unmapped since." */
  unmapped(first: bigint, count: bigint): void {
    for (const p of this.required) if (p >= first && p < first + count) this.required.delete(p);
  }

  /** The pages of the range that must be reported, ascending. */
  requiredIn(first: bigint, count: bigint): bigint[] {
    return [...this.required].filter((p) => p >= first && p < first + count).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  }

  /**
   * Whether a page may be reported: it must be; or "a page written since its last clear while
   * tracking was disabled"; or "a page that is not mapped"; or "any page that shares a naturally
   * aligned block of a page size in the domain's pageSizes (2M or 1G) with a page written since
   * its last clear (tracking enabled or not; an unmap in between does not end this latitude)".
   */
  mayReport(page: bigint, mapped: boolean): boolean {
    if (this.required.has(page) || this.written.has(page) || !mapped) return true;
    return BLOCK_SIZES_OVER_4K(this.pageSizes).some((pages) => [...this.written].some((w) => w / pages === page / pages));
  }

  /**
   * readDirty with clear: "the dirty state of every page of the range is cleared". "A clear may
   * also clear pages outside its range but within such a block that it cuts: those pages may then
   * be reported or not": they are no longer required (still allowed, as written pages).
   */
  clear(first: bigint, count: bigint): void {
    const inRange = (p: bigint): boolean => p >= first && p < first + count;
    for (const p of [...this.written]) if (inRange(p)) this.written.delete(p);
    for (const p of [...this.required]) if (inRange(p)) this.required.delete(p);
    for (const pages of BLOCK_SIZES_OVER_4K(this.pageSizes)) {
      const cutBlocks = new Set([first / pages, (first + count - 1n) / pages]);
      for (const p of [...this.required]) if (cutBlocks.has(p / pages)) this.required.delete(p);
    }
  }
}
