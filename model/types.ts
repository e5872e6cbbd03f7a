// The public types of the contract (CONTRACT.md, "Values" and "The interface").

/** Requester ID / stream ID: integer, 0 <= d < 2^deviceIdBits. */
export type DeviceId = number;
/** `null` is RID traffic (no PASID); otherwise integer 1 <= p < 2^pasidBits. */
export type Pasid = number | null;
/** Chosen by the caller, as in virtio-iommu: integer, 0 <= id < 2^32. */
export type DomainId = number;
/** Bit mask of READ and WRITE; valid values 1, 2, 3. */
export type Prot = number;
export type Access = 'read' | 'write';
/** Every error code of the contract. */
export const ERRNOS = ['EINVAL', 'ENOENT', 'EEXIST', 'EBUSY', 'ERANGE', 'ENOSPC'] as const;
export type Errno = (typeof ERRNOS)[number];
/** Every fault of a translation. */
export const FAULTS = ['blocked', 'not-mapped', 'permission'] as const;
export type Fault = (typeof FAULTS)[number];
/** v2 adds 'nested': a stage-1 domain over a paging (stage-2) parent. */
export type DomainType = 'paging' | 'identity' | 'blocked' | 'nested';
export type Levels = 3 | 4 | 5;
export type Invalidation = 'strict' | 'deferred';
export type UnmapMode = 'split' | 'whole';

export const READ = 1;
export const WRITE = 2;
export const PAGE_SIZE = 4096n;
export const SIZE_4K = 0x1000n;
export const SIZE_2M = 0x20_0000n;
export const SIZE_1G = 0x4000_0000n;
export const ALL_PAGE_SIZES: readonly bigint[] = [SIZE_4K, SIZE_2M, SIZE_1G];
/** Physical addresses are 52 bits wide. */
export const PA_LIMIT = 1n << 52n;
/** Addresses and sizes have u64 semantics. */
export const U64_LIMIT = 1n << 64n;

export type Result<T> = { ok: true; value: T } | { ok: false; error: Errno };
/** A success of a `Result<void>`; a `value` key, if present, is ignored. */
export type VoidResult = { ok: true; value?: unknown } | { ok: false; error: Errno };
export type Translation =
  | { ok: true; pa: bigint }
  | { ok: false; fault: Fault }
  | { ok: false; error: 'EINVAL' };
/** Every method may answer directly or through a promise. */
export type Answer<T> = T | Promise<T>;

export interface DomainOptions {
  type?: DomainType;
  levels?: Levels;
  pageSizes?: bigint[];
  invalidation?: Invalidation;
  unmap?: UnmapMode;
  aperture?: bigint;
  /** v2, nested only (and required there): the stage-2 domain under it. */
  parent?: DomainId;
  /** v2, paging only (not nested), with `capabilities.dirtyTracking`: the domain records dirty pages. */
  dirtyTracking?: boolean;
}

export interface Capabilities {
  deviceIdBits?: number;
  pasidBits?: number;
  maxDomains?: number;
  levels?: Levels[];
  pageSizes?: bigint[];
  canonicalAddresses?: boolean;
  /** v2: nested domains (`type: 'nested'`, `parent`). */
  nesting?: boolean;
  /** v2: `replacePasid`. */
  pasidReplace?: boolean;
  /** v2: 'not-mapped' and 'permission' are one fault cause: either answers for both. */
  coarseFaults?: boolean;
  /** v2: dirty tracking (`dirtyTracking` domains, `setDirtyTracking`, `readDirty`). */
  dirtyTracking?: boolean;
}

export interface Iommu {
  readonly capabilities?: Capabilities;
  createDomain(id: DomainId, options?: DomainOptions): Answer<VoidResult>;
  destroyDomain(id: DomainId): Answer<VoidResult>;
  attachDevice(device: DeviceId, domain: DomainId): Answer<VoidResult>;
  detachDevice(device: DeviceId): Answer<VoidResult>;
  attachPasid(device: DeviceId, pasid: number, domain: DomainId): Answer<VoidResult>;
  detachPasid(device: DeviceId, pasid: number): Answer<VoidResult>;
  map(domain: DomainId, iova: bigint, pa: bigint, size: bigint, prot: Prot): Answer<VoidResult>;
  unmap(domain: DomainId, iova: bigint, size: bigint): Answer<Result<bigint>>;
  flush(domain: DomainId): Answer<VoidResult>;
  translate(device: DeviceId, pasid: Pasid, iova: bigint, access: Access): Answer<Translation>;
  /** v2, required with `capabilities.pasidReplace`: the PASID's domain replaced in one step. */
  replacePasid?(device: DeviceId, pasid: number, domain: DomainId): Answer<VoidResult>;
  /** v2, required with `capabilities.dirtyTracking`. */
  setDirtyTracking?(domain: DomainId, enabled: boolean): Answer<VoidResult>;
  /** v2, required with `capabilities.dirtyTracking`: the IOVAs of the range's pages reported dirty, ascending. */
  readDirty?(domain: DomainId, iova: bigint, size: bigint, clear: boolean): Answer<Result<bigint[]>>;
}

// Calls as data (`Call`, `CallOf`, `AnswerOf`, `Op`) are derived from the operation registry.
export type { AnswerOf, Call, CallOf, Op } from './ops.ts';
