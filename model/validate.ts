// Argument validity (CONTRACT.md, "Values"): anything out of range is EINVAL, checked before
// anything else. Every check here is a plain predicate over one argument.
import {
  ALL_PAGE_SIZES,
  SIZE_4K,
  U64_LIMIT,
  type Access,
  type Capabilities,
  type DomainId,
  type Invalidation,
  type Levels,
  type UnmapMode,
} from './types.ts';
import { CAPABILITY_FIELDS, OPTION_FIELDS, capabilityOf, hasParam, paramsOf, type Call, type ParamKind } from './ops.ts';

/** Capabilities with every default filled in. */
export interface ResolvedCapabilities {
  readonly deviceIdBits: number;
  readonly pasidBits: number;
  readonly maxDomains: number;
  readonly levels: readonly Levels[];
  readonly pageSizes: readonly bigint[];
  readonly canonicalAddresses: boolean;
  readonly nesting: boolean;
  readonly pasidReplace: boolean;
  readonly coarseFaults: boolean;
  readonly dirtyTracking: boolean;
}

/** What a domain with a page table of its own (paging or nested) is configured with. */
export interface TableConfig {
  readonly levels: Levels;
  readonly pageSizes: readonly bigint[];
  readonly invalidation: Invalidation;
  readonly unmap: UnmapMode;
  readonly aperture: bigint;
}

/** A domain's configuration once its options are validated and defaulted. */
export type DomainConfig =
  /** `dirtyTracking`: present (true) only when created with `dirtyTracking: true` (v2). */
  | ({ readonly type: 'paging'; readonly dirtyTracking?: true } & TableConfig)
  /** v2: a stage-1 table whose outputs (IPAs) the parent's table translates. */
  | ({ readonly type: 'nested'; readonly parent: DomainId } & TableConfig)
  | { readonly type: 'identity' }
  | { readonly type: 'blocked' };

/** Paging and nested domains: those with a page table, which map and unmap work on. */
export const hasTable = (c: DomainConfig): c is Extract<DomainConfig, TableConfig> => c.type === 'paging' || c.type === 'nested';

const LEVELS: readonly Levels[] = [3, 4, 5];
type OptionKey = keyof typeof OPTION_FIELDS;
const OPTION_KEYS = Object.keys(OPTION_FIELDS) as OptionKey[];
const PAGING_ONLY_KEYS: readonly string[] = OPTION_KEYS.filter((k) => OPTION_FIELDS[k].pagingOnly);
/** "For an implementation that does not declare a capability, its option keys are unknown keys." */
const knownOptionKeys = (caps: ResolvedCapabilities): readonly string[] =>
  OPTION_KEYS.filter((k) => {
    const field = OPTION_FIELDS[k] as { readonly capability?: keyof ResolvedCapabilities };
    return field.capability === undefined || caps[field.capability] === true;
  });

/** A value, or its default when absent (undefined; null is a value, and a bad one). */
const orDefault = <T>(value: T | undefined, fallback: T): T => (value === undefined ? fallback : value);

const isIntegerIn = (x: unknown, min: number, limit: number): x is number =>
  typeof x === 'number' && Number.isInteger(x) && x >= min && x < limit;

/** Throws a TypeError naming the field: capabilities describe an implementation, not a call. */
export function resolveCapabilities(caps: Capabilities | undefined): ResolvedCapabilities {
  const c: Capabilities = caps ?? {};
  if (typeof c !== 'object' || c === null) throw new TypeError('capabilities must be an object');
  // An absent field (undefined) takes its default; null is a value of the wrong type.
  const deviceIdBits = orDefault(c.deviceIdBits, 32);
  const pasidBits = orDefault(c.pasidBits, 20); // v2: 0 means no PASID traffic at all
  const maxDomains = orDefault(c.maxDomains, Number.POSITIVE_INFINITY);
  const levels = orDefault(c.levels, LEVELS);
  const pageSizes = orDefault(c.pageSizes, ALL_PAGE_SIZES);
  if (!isIntegerIn(deviceIdBits, 1, 33)) throw new TypeError('capabilities.deviceIdBits must be an integer in 1..32');
  if (!isIntegerIn(pasidBits, 0, 21)) throw new TypeError('capabilities.pasidBits must be an integer in 0..20');
  if (!(maxDomains === Number.POSITIVE_INFINITY || isIntegerIn(maxDomains, 0, 2 ** 32 + 1)))
    throw new TypeError('capabilities.maxDomains must be a non-negative integer');
  if (!Array.isArray(levels) || levels.length === 0 || !levels.every((l) => LEVELS.includes(l)))
    throw new TypeError('capabilities.levels must be a non-empty subset of [3, 4, 5]');
  if (!Array.isArray(pageSizes) || !pageSizes.includes(SIZE_4K) || !pageSizes.every((s) => ALL_PAGE_SIZES.includes(s)))
    throw new TypeError('capabilities.pageSizes must be a subset of [4K, 2M, 1G] holding 4K');
  // The boolean capabilities, as the registry lists them (ops.ts).
  const flags = (Object.keys(CAPABILITY_FIELDS) as (keyof typeof CAPABILITY_FIELDS)[]).filter((k) => CAPABILITY_FIELDS[k] === 'boolean');
  for (const flag of flags)
    if (c[flag] !== undefined && typeof c[flag] !== 'boolean') throw new TypeError(`capabilities.${flag} must be a boolean`);
  return {
    deviceIdBits,
    pasidBits,
    maxDomains,
    levels: [...new Set(levels)].sort(),
    pageSizes: ALL_PAGE_SIZES.filter((s) => pageSizes.includes(s)),
    canonicalAddresses: c.canonicalAddresses ?? false,
    nesting: c.nesting ?? false,
    pasidReplace: c.pasidReplace ?? false,
    coarseFaults: c.coarseFaults ?? false,
    dirtyTracking: c.dirtyTracking ?? false,
  };
}

/** Addresses and sizes: a bigint with u64 semantics. */
export const isU64 = (x: unknown): x is bigint => typeof x === 'bigint' && x >= 0n && x < U64_LIMIT;

export const isDomainId = (x: unknown): x is number => isIntegerIn(x, 0, 2 ** 32);

export const isDeviceId = (x: unknown, caps: ResolvedCapabilities): x is number =>
  isIntegerIn(x, 0, 2 ** caps.deviceIdBits);

/** A PASID proper (attachPasid, detachPasid): 0 and null are not PASIDs. */
export const isPasidNumber = (x: unknown, caps: ResolvedCapabilities): x is number =>
  isIntegerIn(x, 1, 2 ** caps.pasidBits);

/** translate's `pasid`: a PASID, or null for RID traffic (undefined is not null). */
export const isPasidOrRid = (x: unknown, caps: ResolvedCapabilities): x is number | null =>
  x === null || isPasidNumber(x, caps);

export const isProt = (x: unknown): x is 1 | 2 | 3 => x === 1 || x === 2 || x === 3;

export const isAccess = (x: unknown): x is Access => x === 'read' || x === 'write';

/**
 * The range rule of each parameter kind of the registry (ops.ts). `options` are checked by the
 * semantics (bad options are one of createDomain's conditions), so any value passes here.
 */
const RANGE_RULES: Record<ParamKind, (x: unknown, caps: ResolvedCapabilities) => boolean> = {
  domain: isDomainId,
  device: isDeviceId,
  pasid: isPasidNumber,
  pasidOrRid: isPasidOrRid,
  u64: isU64,
  prot: isProt,
  access: isAccess,
  boolean: (x) => typeof x === 'boolean',
  options: () => true,
};

/**
 * "Any argument outside its range ... is answered with EINVAL": every parameter of the call in
 * range. v2: "An option or call of an undeclared capability is EINVAL."
 */
export function argumentsInRange(call: Call, caps: ResolvedCapabilities): boolean {
  const fields = call as unknown as Record<string, unknown>;
  const needs = capabilityOf(call.op);
  if (needs !== undefined && !caps[needs]) return false;
  return paramsOf(call.op).every((p) => !hasParam(call, p) || RANGE_RULES[p.kind](fields[p.name], caps));
}

/** The largest aperture a domain of `levels` levels can have with these capabilities. */
export const maxAperture = (levels: Levels, caps: ResolvedCapabilities): bigint =>
  1n << BigInt((caps.canonicalAddresses ? 11 : 12) + 9 * levels);


const isPowerOfTwo = (x: bigint): boolean => x > 0n && (x & (x - 1n)) === 0n;

/** A list of page sizes: an array without holes (a hole is not a bigint), every entry declared. */
function isPageSizeList(x: unknown, declared: readonly bigint[]): x is bigint[] {
  if (!Array.isArray(x)) return false;
  // Stops at the first bad entry, so that a sparse array of length 2^32-1 is refused at once.
  for (let i = 0; i < x.length; i++) if (!(i in x) || !declared.includes(x[i] as bigint)) return false;
  return x.includes(SIZE_4K);
}

/**
 * createDomain's options, validated and defaulted; `undefined` when they are bad (EINVAL).
 * Decision: a key whose value is `undefined` counts as absent, as TypeScript's optional
 * properties mean; an array or any non-object is bad; options whose reading throws (a throwing
 * getter, a Proxy) are bad, since no method throws.
 * Whether a nested domain's parent exists and is a paging domain depends on the state: that is
 * createDomain's to check (reference.ts), not the options'.
 */
export function parseDomainOptions(options: unknown, caps: ResolvedCapabilities): DomainConfig | undefined {
  try {
    return parseOptions(options, caps);
  } catch {
    return undefined;
  }
}

function parseOptions(options: unknown, caps: ResolvedCapabilities): DomainConfig | undefined {
  if (options === undefined) options = {};
  if (typeof options !== 'object' || options === null || Array.isArray(options)) return undefined;
  // Only the object's own enumerable string keys count, for the key check and the values alike.
  const given: Record<string, unknown> = Object.fromEntries(Object.entries(options));
  const present = Object.keys(given).filter((k) => given[k] !== undefined);
  const known = knownOptionKeys(caps);
  if (!present.every((k) => known.includes(k))) return undefined;
  const type = orDefault(given.type, 'paging');
  if (type === 'identity' || type === 'blocked') {
    // Paging-only options (and a parent) on an identity or blocked domain are EINVAL.
    return present.some((k) => PAGING_ONLY_KEYS.includes(k) || k === 'parent') ? undefined : { type };
  }
  // "A missing or misplaced parent is a bad option": required on a nested domain, only there.
  // (Without `nesting`, both 'nested' and `parent` are unknown.)
  if (type === 'nested') {
    // "dirtyTracking on any other type (nested included) is EINVAL, like every paging-only option"
    if (!isDomainId(given.parent) || present.includes('dirtyTracking')) return undefined;
    const table = tableOptions(given, caps);
    return table && { type, parent: given.parent as DomainId, ...table };
  }
  if (type !== 'paging' || present.includes('parent')) return undefined;
  // "dirtyTracking: false on a paging domain means the same as leaving it out"
  const dirtyTracking = orDefault(given.dirtyTracking, false);
  if (typeof dirtyTracking !== 'boolean') return undefined;
  const table = tableOptions(given, caps);
  return table && { type, ...table, ...(dirtyTracking ? { dirtyTracking } : {}) };
}

/** The page-table options of a paging or nested domain, defaulted; undefined when one is bad. */
function tableOptions(given: Record<string, unknown>, caps: ResolvedCapabilities): TableConfig | undefined {
  const levels = orDefault(given.levels, caps.levels.includes(4) ? 4 : caps.levels[caps.levels.length - 1]);
  if (!caps.levels.includes(levels as Levels)) return undefined;
  const pageSizes = orDefault(given.pageSizes, caps.pageSizes);
  if (!isPageSizeList(pageSizes, caps.pageSizes)) return undefined;
  const invalidation = orDefault(given.invalidation, 'strict');
  if (invalidation !== 'strict' && invalidation !== 'deferred') return undefined;
  const unmap = orDefault(given.unmap, 'split');
  if (unmap !== 'split' && unmap !== 'whole') return undefined;
  const limit = maxAperture(levels as Levels, caps);
  const aperture = orDefault(given.aperture, limit);
  if (typeof aperture !== 'bigint' || !isPowerOfTwo(aperture)) return undefined;
  if (aperture < 1n << 21n || aperture > limit) return undefined;
  return {
    levels: levels as Levels,
    pageSizes: caps.pageSizes.filter((s) => pageSizes.includes(s)),
    invalidation,
    unmap,
    aperture,
  };
}
