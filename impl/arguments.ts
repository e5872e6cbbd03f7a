// FastIommu's own checks of what it is handed: call arguments, its capabilities and createDomain's
// options, written from the contract (CONTRACT.md: "Values", DomainOptions, Capabilities) the way
// a driver checks them: ids as unsigned 32-bit integers below a hardware limit, addresses as u64
// values, page sizes and table depths as bit masks, an aperture as an address width.
//
// Deliberately independent of model/validate.ts: the model judges FastIommu, so a mistake the two
// shared could never be seen. Nothing here is imported from the model but its public types and
// constants.
import { SIZE_1G, SIZE_2M, SIZE_4K, type Access, type Capabilities, type DomainOptions } from '../model/types.ts';

/** What the hardware offers, with every default filled in. */
export interface HwCapabilities {
  /** Device ids are below 2^deviceIdBits, PASIDs below 2^pasidBits. */
  readonly deviceLimit: number;
  readonly pasidLimit: number;
  readonly maxDomains: number;
  /** Bit l set: l-level tables (l in 3..5). */
  readonly levelMask: number;
  /** Bit l set: leaves at level l (0: 4K, 1: 2M, 2: 1G). Bit 0 always. */
  readonly leafMask: number;
  /** Sign-extended IOVAs: only the lower half of the table's reach is usable. */
  readonly canonical: boolean;
  /** v2: nested domains (stage 1 over a paging parent), and replacePasid. */
  readonly nesting: boolean;
  readonly pasidReplace: boolean;
  /** v2: dirty tracking (`dirtyTracking` paging domains, setDirtyTracking, readDirty). */
  readonly dirtyTracking: boolean;
}

/** The options of a domain with a table of its own (paging or nested), defaults filled in. */
export type TableConfig = { readonly pageSizes: readonly bigint[] } & Readonly<Required<Pick<DomainOptions, 'levels' | 'invalidation' | 'unmap' | 'aperture'>>>;

/**
 * A domain as createDomain's options describe it: for a paging domain every option, defaults
 * filled in (page sizes ascending, each once); a nested domain (v2) the same and its parent's id
 * (whether that parent exists and is a paging domain is createDomain's to check: it depends on
 * the state); identity and blocked domains have none.
 */
export type DomainConfig =
  | ({ readonly type: 'paging'; readonly dirtyTracking?: boolean } & TableConfig)
  | ({ readonly type: 'nested'; readonly parent: number } & TableConfig)
  | { readonly type: 'identity' | 'blocked' };

/** Leaf sizes by level. */
const LEAF_SIZES: readonly bigint[] = [SIZE_4K, SIZE_2M, SIZE_1G];
/** IOVA bits a table of `levels` levels translates: 12 of page offset, 9 per level. */
const vaBits = (levels: number): number => 12 + 9 * levels;
/** The smallest aperture a domain may have: 2M (one last-level table). */
const MIN_APERTURE_BITS = 21;

// ---------------------------------------------------------------- call arguments

/** An unsigned 32-bit integer below `limit` (at most 2^32). */
const isIndexBelow = (x: unknown, limit: number): x is number => typeof x === 'number' && x >>> 0 === x && x < limit;

export const validDomainId = (x: unknown): x is number => isIndexBelow(x, 2 ** 32);

export const validDevice = (x: unknown, hw: HwCapabilities): x is number => isIndexBelow(x, hw.deviceLimit);

/** A PASID proper: PASID 0 does not exist (RID traffic has none, not 0). */
export const validPasid = (x: unknown, hw: HwCapabilities): x is number => isIndexBelow(x, hw.pasidLimit) && x !== 0;

/** translate's stream: null for RID traffic, or a PASID. */
export const validStream = (x: unknown, hw: HwCapabilities): x is number | null => x === null || validPasid(x, hw);

/** An address or a size: a bigint that is its own 64-bit unsigned truncation. */
export const validU64 = (x: unknown): x is bigint => typeof x === 'bigint' && BigInt.asUintN(64, x) === x;

/** READ and/or WRITE, and no other bit. */
export const validProt = (x: unknown): x is 1 | 2 | 3 => typeof x === 'number' && (x & 3) === x && x !== 0;

export const validAccess = (x: unknown): x is Access => x === 'read' || x === 'write';

// ---------------------------------------------------------------- capabilities

const fail = (what: string): never => {
  throw new TypeError(`capabilities.${what}`);
};

const isIntegerIn = (x: unknown, min: number, max: number): x is number =>
  typeof x === 'number' && Number.isInteger(x) && x >= min && x <= max;

/** The leaf mask of a list of page sizes, or -1 if it holds anything that is not 4K, 2M or 1G. */
function leafMaskOf(sizes: readonly unknown[]): number {
  let mask = 0;
  for (const s of sizes) {
    const l = LEAF_SIZES.indexOf(s as bigint);
    if (l < 0) return -1;
    mask |= 1 << l;
  }
  return mask;
}

/**
 * What the declared capabilities (all optional; undefined or null: none declared) mean for the
 * hardware. Throws a TypeError naming the field: capabilities describe an implementation, not a
 * call.
 */
export function resolveCapabilities(declared: Capabilities | null | undefined): HwCapabilities {
  const c: Capabilities = declared ?? {};
  if (typeof c !== 'object') throw new TypeError('capabilities must be an object');
  const deviceIdBits = c.deviceIdBits === undefined ? 32 : c.deviceIdBits;
  if (!isIntegerIn(deviceIdBits, 1, 32)) fail('deviceIdBits must be an integer in 1..32');
  // v2: 0 bits is an IOMMU without PASID traffic (no PASID is then in range).
  const pasidBits = c.pasidBits === undefined ? 20 : c.pasidBits;
  if (!isIntegerIn(pasidBits, 0, 20)) fail('pasidBits must be an integer in 0..20');
  // At most one domain per domain id (2^32 of them); unlimited by default.
  const maxDomains = c.maxDomains === undefined ? Number.POSITIVE_INFINITY : c.maxDomains;
  if (maxDomains !== Number.POSITIVE_INFINITY && !isIntegerIn(maxDomains, 0, 2 ** 32))
    fail('maxDomains must be a non-negative integer');
  let levelMask = 0b111000;
  if (c.levels !== undefined) {
    levelMask = 0;
    if (Array.isArray(c.levels))
      for (const l of c.levels as unknown[]) {
        if (l !== 3 && l !== 4 && l !== 5) {
          levelMask = 0;
          break;
        }
        levelMask |= 1 << l;
      }
    if (levelMask === 0) fail('levels must be a non-empty subset of [3, 4, 5]');
  }
  let leafMask = 0b111;
  if (c.pageSizes !== undefined) {
    leafMask = Array.isArray(c.pageSizes) ? leafMaskOf(c.pageSizes) : -1;
    if (leafMask < 0 || (leafMask & 1) === 0) fail('pageSizes must be a subset of [4K, 2M, 1G] holding 4K');
  }
  for (const flag of ['canonicalAddresses', 'nesting', 'pasidReplace', 'coarseFaults', 'dirtyTracking'] as const)
    if (c[flag] !== undefined && typeof c[flag] !== 'boolean') fail(`${flag} must be a boolean`);
  return {
    deviceLimit: 2 ** deviceIdBits,
    pasidLimit: 2 ** pasidBits,
    maxDomains,
    levelMask,
    leafMask,
    canonical: c.canonicalAddresses === true,
    nesting: c.nesting === true,
    pasidReplace: c.pasidReplace === true,
    dirtyTracking: c.dirtyTracking === true,
  };
}

// ---------------------------------------------------------------- domain options

const OPTION_KEYS: ReadonlySet<string> = new Set(['type', 'levels', 'pageSizes', 'invalidation', 'unmap', 'aperture']);
/** With `nesting` (v2) one more key, `parent`, and with `dirtyTracking` (v2) `dirtyTracking`: without
 * their capability they are unknown keys. */
const KEY_SETS: readonly ReadonlySet<string>[] = [
  OPTION_KEYS,
  new Set([...OPTION_KEYS, 'parent']),
  new Set([...OPTION_KEYS, 'dirtyTracking']),
  new Set([...OPTION_KEYS, 'parent', 'dirtyTracking']),
];

/**
 * createDomain's options, checked and defaulted; undefined when they are bad (EINVAL). Only the
 * object's own enumerable string keys are options; a key whose value is undefined is absent.
 * Options whose reading throws (a getter, a Proxy) are bad too: no method throws.
 */
export function parseDomainOptions(options: unknown, hw: HwCapabilities): DomainConfig | undefined {
  try {
    return parseOptions(options, hw);
  } catch {
    return undefined;
  }
}

function parseOptions(options: unknown, hw: HwCapabilities): DomainConfig | undefined {
  if (options === undefined) options = {};
  if (typeof options !== 'object' || options === null || Array.isArray(options)) return undefined;
  const keys = KEY_SETS[(hw.nesting ? 1 : 0) + (hw.dirtyTracking ? 2 : 0)]!;
  const given = new Map<string, unknown>();
  for (const [key, value] of Object.entries(options)) {
    if (value === undefined) continue;
    if (!keys.has(key)) return undefined;
    given.set(key, value);
  }
  // An absent option takes its default; null is a value, and a bad one.
  const option = (key: string, fallback: unknown): unknown => (given.has(key) ? given.get(key) : fallback);
  const type = option('type', 'paging');
  // Identity and blocked domains take no other option.
  if (type === 'identity' || type === 'blocked') return given.size === 1 ? { type } : undefined;
  // A nested domain (only with `nesting`: else `parent` was an unknown key above) names its
  // parent, as a domain id; no other type does. `dirtyTracking` is a paging domain's only (a
  // nested domain's writes are recorded by its parent): present on a nested one, it is bad.
  if (type === 'nested') {
    const parent = given.get('parent');
    if (!hw.nesting || !validDomainId(parent) || given.has('dirtyTracking')) return undefined;
    const table = tableOptions(option, given, hw);
    return table && { type, parent, ...table };
  }
  if (type !== 'paging' || given.has('parent')) return undefined;
  // v2: `false` means what leaving it out means.
  const dirtyTracking = option('dirtyTracking', false);
  if (typeof dirtyTracking !== 'boolean') return undefined;
  const table = tableOptions(option, given, hw);
  return table && { type, dirtyTracking, ...table };
}

/** The options of a table (paging or nested domain), defaulted; undefined when one is bad. */
function tableOptions(option: (key: string, fallback: unknown) => unknown, given: ReadonlyMap<string, unknown>, hw: HwCapabilities): TableConfig | undefined {
  // Default depth: 4 levels if the hardware has them, else the deepest it has.
  const levels = option('levels', (hw.levelMask & (1 << 4)) !== 0 ? 4 : 31 - Math.clz32(hw.levelMask));
  if ((levels !== 3 && levels !== 4 && levels !== 5) || (hw.levelMask & (1 << levels)) === 0) return undefined;

  let leafMask = hw.leafMask;
  if (given.has('pageSizes')) {
    const pageSizes = given.get('pageSizes');
    leafMask = Array.isArray(pageSizes) ? leafMaskOf(pageSizes) : -1;
    if (leafMask < 0 || (leafMask & 1) === 0 || (leafMask & ~hw.leafMask) !== 0) return undefined;
  }

  const invalidation = option('invalidation', 'strict');
  if (invalidation !== 'strict' && invalidation !== 'deferred') return undefined;
  const unmap = option('unmap', 'split');
  if (unmap !== 'split' && unmap !== 'whole') return undefined;

  // The aperture is an address width: 2^bits, from 2M up to what the table reaches (its lower half
  // with sign-extended addresses).
  const maxBits = vaBits(levels) - (hw.canonical ? 1 : 0);
  const aperture = option('aperture', 1n << BigInt(maxBits));
  if (typeof aperture !== 'bigint' || aperture <= 0n) return undefined;
  const bits = aperture.toString(2).length - 1;
  if (aperture !== 1n << BigInt(bits) || bits < MIN_APERTURE_BITS || bits > maxBits) return undefined;

  return {
    levels,
    pageSizes: LEAF_SIZES.filter((_, l) => (leafMask & (1 << l)) !== 0),
    invalidation,
    unmap,
    aperture,
  };
}
