// Resolving the bit intents: pairs that differ in exactly one bit, both mapped or attached, both
// translated, so that an implementation that drops or masks that bit (a table index computed with
// a short mask, a PA field too narrow, a context table indexed by a truncated id) aliases them.
// Each intent covers three bits of one class, spread over the class so that a campaign reaches
// every bit: each of the 9 index bits of each level the domain has, each PA bit 12..51, each
// device-id bit below deviceIdBits, each PASID bit below pasidBits, each domain-id bit.
import { PA_LIMIT, SIZE_2M, type Call, type DomainId, type DomainOptions } from '../../model/types.ts';
import type { Intent } from './intents.ts';
import { sourceCalls } from './resolve-ranges.ts';
import { DOMAIN_IDS, K4, choose, type PagingView, type Scene } from './scene.ts';

/** The shape recorded on a pair's translations: `bit:<class>-b<bit>` (statistics count the distinct ones). */
export const bitShape = (bitClass: string, bit: number): string => `bit:${bitClass}-b${bit}`;

/** `n` bits of `count`, spread evenly over the range, starting at `seed`. */
const spread = (seed: number, count: number, n = 3): number[] => [...new Set([...Array(n).keys()].map((k) => (seed + Math.floor((k * count) / n)) % count))];

/** Where the pairs go: a region the generators seldom use (above 2^30, below any aperture). */
const BASE = 0x4000_0000n + 0x55n * SIZE_2M;
/** PAs of the pairs: well inside the 52-bit space, distinct from the other generators' PAs. */
const PA_BASE = 0x7_7000_0000n;

type Pair = { calls: Call[]; shapes: Map<Call, string> };

/**
 * Options for a paging domain the pairs create, among the kinds asked for (of this depth, when
 * given): undefined when no such kind is asked for, and then nothing is created.
 */
function pagingKind(scene: Scene, levels?: number): DomainOptions | undefined {
  const paging = scene.kinds.filter((k) => (k.type === undefined || k.type === 'paging') && k.dirtyTracking === undefined);
  const kind = levels === undefined ? paging[0] : paging.find((k) => k.levels === levels) ?? paging.find((k) => k.levels === undefined && k.aperture === undefined);
  if (kind === undefined) return undefined;
  return levels === undefined || kind.levels === levels ? { ...kind } : { ...kind, levels: levels as 3 | 4 | 5 };
}

/** The bit each pair's translation stands for, by call object (the statistics read it when it runs). */
const pairShapes = new WeakMap<Call, string>();
export const bitShapeOf = (call: Call): string | undefined => pairShapes.get(call);

export function bitsCalls(scene: Scene, intent: Extract<Intent, { kind: 'bits' }>): Call[] {
  const classes: ((s: Scene, seed: number) => Pair | undefined)[] = [iovaPairs, iovaPairs, paPairs, devicePairs, pasidPairs, domainIdPairs];
  const pair = choose(classes, intent.variant)(scene, intent.pick);
  for (const [call, shape] of pair?.shapes ?? []) pairShapes.set(call, shape);
  return pair?.calls ?? [];
}

/** The number of bits of each class there are for these capabilities and levels. */
export function bitClassSizes(caps: { deviceIdBits: number; pasidBits: number; levels: readonly number[] }): Record<string, number> {
  const sizes: Record<string, number> = { pa: 40, device: caps.deviceIdBits, 'domain-id': 31 };
  if (caps.pasidBits >= 2) sizes.pasid = caps.pasidBits;
  for (let level = 0; level < Math.max(...caps.levels); level++) sizes[`iova-level${level}`] = 9;
  return sizes;
}

/** Where a pair goes: a paging domain's id, depth and aperture. */
interface Table {
  readonly id: DomainId;
  readonly levels: number;
  readonly aperture: bigint;
}

const tableOf = (d: PagingView): Table => ({ id: d.id, levels: d.config.levels, aperture: d.config.aperture });

/**
 * A paging domain (of more than `minLevels` levels: a new one if the scene has none and the
 * implementation has such tables) with a user: one attached already, or device 0 attached now.
 */
function withUser(scene: Scene, seed: number, minLevels = 0): { d: Table; user: ReturnType<typeof sourceCalls>; calls: Call[] } | undefined {
  const paging = scene.domains.filter((x): x is PagingView => x.config.type === 'paging');
  const deep = paging.filter((x) => x.config.levels > minLevels);
  // None deep enough: a new one of the depth wanted, when the implementation has it.
  const levels = scene.caps.levels.find((l) => l > minLevels);
  const free = [...DOMAIN_IDS, 5, 6, 7].find((id) => !scene.domains.some((x) => x.id === id));
  const kind = levels === undefined ? undefined : pagingKind(scene, levels);
  if (deep.length === 0 && levels !== undefined && free !== undefined && kind !== undefined) {
    const user = sourceCalls(0, null);
    const aperture = 1n << BigInt(12 + 9 * levels - (scene.caps.canonicalAddresses ? 1 : 0));
    return { d: { id: free, levels, aperture }, user, calls: [{ op: 'createDomain', id: free, options: kind }, user.attach(free)] };
  }
  const d = choose(deep.length > 0 ? deep : paging, seed);
  if (d === undefined) return undefined;
  const a = scene.attachments.find((x) => x.domain === d.id);
  const user = sourceCalls(a?.device ?? 0, a?.pasid ?? null);
  return { d: tableOf(d), user, calls: a ? [] : [user.attach(d.id)] };
}

/** IOVAs that differ from a base in one bit of one level's index: both mapped, both translated. */
function iovaPairs(scene: Scene, seed: number): Pair | undefined {
  // The level first, then a domain deep enough for it: the top levels of 5-level tables count too.
  const wanted = (seed >> 3) % 5;
  const w = withUser(scene, seed, wanted);
  if (w === undefined) return undefined;
  const { d, user, calls } = w;
  const level = wanted % d.levels;
  const shapes = new Map<Call, string>();
  const base = BASE & ~(0x1ffn << BigInt(12 + 9 * level)) & (d.aperture - 1n); // the level's index bits are 0
  calls.push({ op: 'map', domain: d.id, iova: base, pa: PA_BASE, size: K4, prot: 3 }, user.read(base));
  spread(seed >> 6, 9, 5).forEach((bit, k) => {
    const iova = base | (1n << BigInt(12 + 9 * level + bit));
    if (iova >= d.aperture) return;
    const read = user.read(iova);
    calls.push({ op: 'map', domain: d.id, iova, pa: PA_BASE + BigInt(k + 1) * K4, size: K4, prot: 3 }, read, user.read(base));
    shapes.set(read, bitShape(`iova-level${level}`, bit));
  });
  return { calls, shapes };
}

/** PAs that differ in one bit from 12 to 51: both mapped, both translated. */
function paPairs(scene: Scene, seed: number): Pair | undefined {
  const w = withUser(scene, seed);
  if (w === undefined) return undefined;
  const { d, user, calls } = w;
  const shapes = new Map<Call, string>();
  const base = BASE + 0x100n * K4;
  calls.push({ op: 'map', domain: d.id, iova: base, pa: 0n, size: K4, prot: 3 }, user.read(base));
  spread(seed >> 3, 40, 4).forEach((b, k) => {
    const bit = 12 + b;
    const pa = 1n << BigInt(bit);
    if (pa + K4 > PA_LIMIT) return;
    const iova = base + BigInt(k + 1) * K4;
    const read = user.read(iova);
    calls.push({ op: 'map', domain: d.id, iova, pa, size: K4, prot: 3 }, read, user.read(base));
    shapes.set(read, bitShape('pa', bit));
  });
  return { calls, shapes };
}

/** Two paging domains mapping the same IOVA to different PAs (new ones when the scene lacks them). */
function twoDomains(scene: Scene, seed: number): { ids: [DomainId, DomainId]; iova: bigint; calls: Call[] } | undefined {
  const paging = scene.domains.filter((x) => x.config.type === 'paging').map((x) => x.id);
  const free = [...DOMAIN_IDS, 5, 6, 7].filter((id) => !scene.domains.some((x) => x.id === id));
  const kind = pagingKind(scene);
  const calls: Call[] = [];
  const ids = [...paging.slice(seed % 2), ...(kind ? free : [])].slice(0, 2) as [DomainId, DomainId];
  if (ids.length < 2) return undefined;
  for (const id of ids) if (!paging.includes(id)) calls.push({ op: 'createDomain', id, options: kind });
  const iova = BASE + 0x200n * K4;
  ids.forEach((id, k) => calls.push({ op: 'map', domain: id, iova, pa: PA_BASE + BigInt(0x100 + k) * K4, size: K4, prot: 3 }));
  return { ids, iova, calls };
}

/** Device ids that differ in one bit below deviceIdBits, on two domains: each sees only its own. */
function devicePairs(scene: Scene, seed: number): Pair | undefined {
  const bits = scene.caps.deviceIdBits;
  const two = twoDomains(scene, seed);
  if (two === undefined) return undefined;
  const { ids, iova, calls } = two;
  const shapes = new Map<Call, string>();
  const low = 0;
  calls.push({ op: 'attachDevice', device: low, domain: ids[0] });
  for (const bit of spread(seed >> 3, bits)) {
    const device = low | 2 ** bit;
    const other = sourceCalls(device, null);
    const read = other.read(iova);
    calls.push(other.attach(ids[1]), read, sourceCalls(low, null).read(iova));
    shapes.set(read, bitShape('device', bit));
  }
  return { calls, shapes };
}

/** PASIDs that differ in one bit below pasidBits, on one device and two domains. */
function pasidPairs(scene: Scene, seed: number): Pair | undefined {
  const bits = scene.caps.pasidBits;
  const two = bits < 2 ? undefined : twoDomains(scene, seed);
  if (two === undefined) return undefined;
  const { ids, iova, calls } = two;
  const shapes = new Map<Call, string>();
  const device = 0x3 % 2 ** scene.caps.deviceIdBits;
  for (const bit of spread(seed >> 3, bits)) {
    const low = bit === 0 ? 2 : 1; // PASID 0 is not a PASID
    const high = low | 2 ** bit;
    const a = sourceCalls(device, low);
    const b = sourceCalls(device, high);
    const read = b.read(iova);
    calls.push(a.attach(ids[0]), b.attach(ids[1]), read, a.read(iova), a.detach(), b.detach());
    shapes.set(read, bitShape('pasid', bit));
  }
  return { calls, shapes };
}

/** Domain ids that differ from 1 in one bit of 32 (bit 0 would be id 0, in the pools already), each with its own mapping and user. */
function domainIdPairs(scene: Scene, seed: number): Pair | undefined {
  const shapes = new Map<Call, string>();
  const calls: Call[] = [];
  const iova = BASE + 0x300n * K4;
  const low = 1;
  const used = (id: number) => scene.domains.some((x) => x.id === id);
  const kind = pagingKind(scene);
  if (kind === undefined) return undefined;
  if (!used(low)) calls.push({ op: 'createDomain', id: low, options: kind });
  const a = sourceCalls(4 % 2 ** scene.caps.deviceIdBits, null);
  const b = sourceCalls(5 % 2 ** scene.caps.deviceIdBits, null);
  calls.push({ op: 'map', domain: low, iova, pa: PA_BASE + 0x300n * K4, size: K4, prot: 3 }, a.attach(low));
  spread(seed >> 3, 31).forEach((b0, k) => {
    const bit = 1 + b0;
    const high = (low | 2 ** bit) >>> 0;
    if (used(high)) return;
    const read = b.read(iova);
    calls.push(
      { op: 'createDomain', id: high, options: kind },
      { op: 'map', domain: high, iova, pa: PA_BASE + BigInt(0x301 + k) * K4, size: K4, prot: 3 },
      b.attach(high),
      a.read(iova),
      read,
      b.detach(),
      { op: 'destroyDomain', id: high },
    );
    shapes.set(read, bitShape('domain-id', bit));
  });
  return { calls, shapes };
}
