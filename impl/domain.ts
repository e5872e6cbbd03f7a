// The state of one domain. One class for every type, so that the hot path stays monomorphic.
import type { DomainConfig } from './arguments.ts';
import { IntervalSet } from './interval-set.ts';

/** Paging domains, nested ones (v2) included: every domain with a table of its own. */
export const PAGING = 0;
export const IDENTITY = 1;
export const BLOCKED = 2;

/** A deferred domain's flush queue holds this many ranges; beyond, the domain's IOTLB entries are
 * all invalidated instead (as Linux's flush queue does when full). */
export const FLUSH_QUEUE_SIZE = 256;

export class Domain {
  /** 0 paging (nested included: see `parent`), 1 identity, 2 blocked. */
  readonly kind: number;
  /**
   * v2, nested domains: the stage-2 (paging) domain under this stage-1 table, whose table
   * translates the IPAs this one gives; null for every other domain. A nested domain's kind is
   * PAGING, so that map, unmap, flush and the IOTLB's hit path treat it as any paging domain.
   */
  readonly parent: Domain | null;
  /** The nested domains over this one (a paging domain that is a parent), in creation order. */
  readonly children: Domain[] = [];
  /** Levels of the table (paging); the root is at level `levels - 1`. */
  readonly levels: number;
  /** End of the IOVA space, as bigint and as a PFN. */
  readonly aperture: bigint;
  readonly aperturePfn: number;
  /** The aperture as a Number (a power of two up to 2^57: exact). */
  readonly apertureNum: number;
  /** Whether a leaf may sit at level 0 (4K), 1 (2M), 2 (1G). */
  readonly leafOk: readonly boolean[];
  readonly deferred: boolean;
  readonly whole: boolean;
  /** v2: a paging domain created with `dirtyTracking: true` (its leaves carry dirty bits). */
  readonly dirtyTracking: boolean;
  /**
   * v2: whether writes through this domain are recorded now: for a dirty-tracking domain, its
   * tracking is enabled (setDirtyTracking); for a nested domain, its parent's is (the parent's
   * leaves record its writes); false for every other domain. Read by translate's hit path.
   */
  tracks = false;
  /** Root table page in the arena (-1 when not paging). */
  root = -1;
  /** Devices and (device, PASID)s attached. */
  attached = 0;
  /** Pages currently mapped. */
  mappedPages = 0;

  /** IOTLB entries of this domain per leaf level (0: 4K, 1: 2M, 2: 1G). */
  readonly tlbN = new Int32Array(3);
  /** IOTLB entries of the nested domains over this one (their combined entries), all levels. */
  childTlbEntries = 0;

  /** Deferred invalidation queue: the PFN ranges unmapped since the last flush, in that order. */
  readonly flushQueue = new IntervalSet();

  /** 'whole' domains: the PFN ranges of the map calls, sorted and disjoint. */
  readonly extents = new IntervalSet();

  constructor(
    readonly id: number,
    /** The hardware tag (like a VT-d DID or SMMU ASID), never reused. */
    readonly tag: number,
    readonly config: DomainConfig,
    parent: Domain | null = null,
  ) {
    this.parent = parent;
    this.dirtyTracking = config.type === 'paging' && config.dirtyTracking === true;
    if (config.type === 'paging' || config.type === 'nested') {
      this.kind = PAGING;
      this.levels = config.levels;
      this.aperture = config.aperture;
      this.aperturePfn = Number(config.aperture >> 12n);
      this.apertureNum = Number(config.aperture);
      this.leafOk = [true, config.pageSizes.includes(0x20_0000n), config.pageSizes.includes(0x4000_0000n), false, false];
      this.deferred = config.invalidation === 'deferred';
      this.whole = config.unmap === 'whole';
    } else {
      this.kind = config.type === 'identity' ? IDENTITY : BLOCKED;
      this.levels = 0;
      this.aperture = 0n;
      this.aperturePfn = 0;
      this.apertureNum = 0;
      this.leafOk = [false, false, false, false, false];
      this.deferred = false;
      this.whole = false;
    }
  }
}
