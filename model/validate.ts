// Argument validity (CONTRACT.md, "Values"): anything out of range is EINVAL, checked before
// anything else. Every check here is a plain predicate over one argument.
import {
  ALL_PAGE_SIZES,
  SIZE_4K,
  U64_LIMIT,
  type Access,
  type Capabilities,
  type Invalidation,
  type Levels,
  type UnmapMode,
} from './types.ts';
import { OPTION_FIELDS, hasParam, paramsOf, type Call, type ParamKind } from './ops.ts';

/** Capabilities with every default filled in. */
export interface ResolvedCapabilities {
  readonly deviceIdBits: number;
  readonly pasidBits: number;
  readonly maxDomains: number;
  readonly levels: readonly Levels[];
  readonly pageSizes: readonly bigint[];
  readonly canonicalAddresses: boolean;
}

/** A domain's configuration once its options are validated and defaulted. */
export type DomainConfig =
  | {
      readonly type: 'paging';
      readonly levels: Levels;
      readonly pageSizes: readonly bigint[];
      readonly invalidation: Invalidation;
      readonly unmap: UnmapMode;
      readonly aperture: bigint;
    }
  | { readonly type: 'identity' }
  | { readonly type: 'blocked' };

const LEVELS: readonly Levels[] = [3, 4, 5];
const OPTION_KEYS: readonly string[] = Object.keys(OPTION_FIELDS);
const PAGING_ONLY_KEYS: readonly string[] = OPTION_KEYS.filter((k) => OPTION_FIELDS[k as keyof typeof OPTION_FIELDS].pagingOnly);

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
  const pasidBits = orDefault(c.pasidBits, 20);
  const maxDomains = orDefault(c.maxDomains, Number.POSITIVE_INFINITY);
  const levels = orDefault(c.levels, LEVELS);
  const pageSizes = orDefault(c.pageSizes, ALL_PAGE_SIZES);
  if (!isIntegerIn(deviceIdBits, 1, 33)) throw new TypeError('capabilities.deviceIdBits must be an integer in 1..32');
  if (!isIntegerIn(pasidBits, 1, 21)) throw new TypeError('capabilities.pasidBits must be an integer in 1..20');
  if (!(maxDomains === Number.POSITIVE_INFINITY || isIntegerIn(maxDomains, 0, 2 ** 32 + 1)))
    throw new TypeError('capabilities.maxDomains must be a non-negative integer');
  if (!Array.isArray(levels) || levels.length === 0 || !levels.every((l) => LEVELS.includes(l)))
    throw new TypeError('capabilities.levels must be a non-empty subset of [3, 4, 5]');
  if (!Array.isArray(pageSizes) || !pageSizes.includes(SIZE_4K) || !pageSizes.every((s) => ALL_PAGE_SIZES.includes(s)))
    throw new TypeError('capabilities.pageSizes must be a subset of [4K, 2M, 1G] holding 4K');
  if (c.canonicalAddresses !== undefined && typeof c.canonicalAddresses !== 'boolean')
    throw new TypeError('capabilities.canonicalAddresses must be a boolean');
  return {
    deviceIdBits,
    pasidBits,
    maxDomains,
    levels: [...new Set(levels)].sort(),
    pageSizes: ALL_PAGE_SIZES.filter((s) => pageSizes.includes(s)),
    canonicalAddresses: c.canonicalAddresses ?? false,
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

/** "Any argument outside its range ... is answered with EINVAL": every parameter of the call in range. */
export function argumentsInRange(call: Call, caps: ResolvedCapabilities): boolean {
  const fields = call as unknown as Record<string, unknown>;
  return paramsOf(call.op).every((p) => !hasParam(call, p) || RANGE_RULES[p.kind](fields[p.name], caps));
}

/** The largest aperture a domain of `levels` levels can have with these capabilities. */
export const maxAperture = (levels: Levels, caps: ResolvedCapabilities): bigint =>
  1n << BigInt((caps.canonicalAddresses ? 11 : 12) + 9 * levels);


const isPowerOfTwo = (x: bigint): boolean => x > 0n && (x & (x - 1n)) === 0n;

/**
 * createDomain's options, validated and defaulted; `undefined` when they are bad (EINVAL).
 * Decision: a key whose value is `undefined` counts as absent, as TypeScript's optional
 * properties mean; an array or any non-object is bad.
 */
export function parseDomainOptions(options: unknown, caps: ResolvedCapabilities): DomainConfig | undefined {
  if (options === undefined) options = {};
  if (typeof options !== 'object' || options === null || Array.isArray(options)) return undefined;
  // Only the object's own enumerable string keys count, for the key check and the values alike.
  const given: Record<string, unknown> = Object.fromEntries(Object.entries(options));
  const present = Object.keys(given).filter((k) => given[k] !== undefined);
  if (!present.every((k) => OPTION_KEYS.includes(k))) return undefined;
  const type = orDefault(given.type, 'paging');
  if (type === 'identity' || type === 'blocked') {
    // Paging-only options on an identity or blocked domain are EINVAL.
    return present.some((k) => PAGING_ONLY_KEYS.includes(k)) ? undefined : { type };
  }
  if (type !== 'paging') return undefined;

  const levels = orDefault(given.levels, caps.levels.includes(4) ? 4 : caps.levels[caps.levels.length - 1]);
  if (!caps.levels.includes(levels as Levels)) return undefined;
  const pageSizes = orDefault(given.pageSizes, caps.pageSizes);
  if (!Array.isArray(pageSizes) || !pageSizes.includes(SIZE_4K)) return undefined;
  if (!pageSizes.every((s) => caps.pageSizes.includes(s as bigint))) return undefined;
  const invalidation = orDefault(given.invalidation, 'strict');
  if (invalidation !== 'strict' && invalidation !== 'deferred') return undefined;
  const unmap = orDefault(given.unmap, 'split');
  if (unmap !== 'split' && unmap !== 'whole') return undefined;
  const limit = maxAperture(levels as Levels, caps);
  const aperture = orDefault(given.aperture, limit);
  if (typeof aperture !== 'bigint' || !isPowerOfTwo(aperture)) return undefined;
  if (aperture < 1n << 21n || aperture > limit) return undefined;
  return {
    type: 'paging',
    levels: levels as Levels,
    pageSizes: caps.pageSizes.filter((s) => pageSizes.includes(s)),
    invalidation,
    unmap,
    aperture,
  };
}
