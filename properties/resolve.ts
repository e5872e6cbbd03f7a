// Resolving an intent into concrete calls against the current state, biased to where IOMMUs
// break: few ids so that they collide, IOVAs at live and just-unmapped mappings, their
// neighbours and interiors, page-table boundaries and the top of the aperture, sizes that
// straddle them, aligned large ranges that invite 2M/1G leaves, partial unmaps that split them.
import type { AttachmentView, DomainView } from '../model/reference.ts';
import { SIZE_1G, SIZE_2M, SIZE_4K, PA_LIMIT, U64_LIMIT, type Call, type DomainId, type DomainOptions, type Pasid } from '../model/types.ts';
import type { DomainConfig, ResolvedCapabilities } from '../model/validate.ts';
import type { Intent } from './intents.ts';

export interface Range {
  readonly domain: DomainId;
  readonly iova: bigint;
  readonly size: bigint;
}

/** What resolution may look at: the model's state plus the harness's short memory. */
export interface Scene {
  readonly caps: ResolvedCapabilities;
  readonly domains: readonly DomainView[];
  readonly attachments: readonly AttachmentView[];
  readonly recentlyUnmapped: readonly Range[];
  /** Mappings made earlier in the run, in any domain, live or not: where stale state hides. */
  readonly pastMappings: readonly Range[];
  readonly destroyed: readonly DomainId[];
  readonly kinds: readonly Partial<DomainOptions>[];
  /** Only arguments the JSON Lines protocol can carry (no wrong JS types). */
  readonly representableOnly: boolean;
}

type PagingView = DomainView & { readonly config: Extract<DomainConfig, { type: 'paging' }> };

const K4 = SIZE_4K;
const BOUNDARIES = [0n, SIZE_2M, SIZE_1G, 1n << 39n, 1n << 48n];
const DOMAIN_IDS = [1, 2, 3, 4];
/** Edges of the id space, and ids that alias small ones under a 16-bit mask. */
const EDGE_DOMAIN_IDS = [0, 0xffff_ffff, 0x1_0001];
/** Steps from an IOVA to the IOVAs that share its index at every level but one. */
export const LEVEL_STRIDES = [1n << 21n, 1n << 30n, 1n << 39n, 1n << 48n];

const choose = <T>(items: readonly T[], seed: number): T => items[seed % items.length];
const isPaging = (d: DomainView): d is PagingView => d.config.type === 'paging';

/** The default mix of domain kinds, as options to createDomain. */
export const DEFAULT_DOMAIN_KINDS: readonly Partial<DomainOptions>[] = [
  {},
  { invalidation: 'deferred' },
  { unmap: 'whole' },
  { invalidation: 'deferred', unmap: 'whole' },
  { unmap: 'whole', pageSizes: [K4, SIZE_2M] },
  { levels: 3 },
  { levels: 5 },
  { levels: 5, invalidation: 'deferred' },
  { pageSizes: [K4] },
  { pageSizes: [K4, SIZE_2M], invalidation: 'deferred' },
  { levels: 3, invalidation: 'deferred' },
  { aperture: 1n << 32n },
  { type: 'identity' },
  { type: 'blocked' },
];

/** Options that createDomain must refuse (EINVAL): the generator sends one now and then. */
const INVALID_OPTIONS: readonly unknown[] = [
  { levels: 2 },
  { type: 'identity', levels: 4 },
  { type: 'blocked', invalidation: 'deferred' },
  { bogus: 1 },
  { pageSizes: [SIZE_2M] },
  { aperture: 3n << 20n },
  { aperture: 1n << 20n },
  { unmap: 'partial' },
  { type: 'dma' },
];

/** Few ids so that they collide; plus the top id and ids that alias 0 or 1 under 8/16-bit masks. */
function devices(caps: ResolvedCapabilities): number[] {
  const edges = [2 ** caps.deviceIdBits - 1, 0x100, 0x1_0000].filter((d) => d < 2 ** caps.deviceIdBits);
  return [0, 1, 2, 0, 1, 2, 0, 1, ...edges];
}

function pasids(caps: ResolvedCapabilities): number[] {
  const edges = [2 ** caps.pasidBits - 1, 0x101, 0x1_0001].filter((p) => p < 2 ** caps.pasidBits);
  return [1, 2, 3, 1, 2, 3, 1, 2, ...edges];
}

/** A (device, PASID or RID) target: mostly one that is attached, else any from the pools. */
function target(scene: Scene, seed: number, pasid: 'rid' | 'pasid' | 'any', attachedShare = 7): { device: number; pasid: Pasid } {
  const attached = scene.attachments.filter((a) => pasid === 'any' || (pasid === 'rid') === (a.pasid === null));
  if (attached.length > 0 && seed % 10 < attachedShare) {
    const a = choose(attached, seed >> 4);
    return { device: a.device, pasid: a.pasid };
  }
  const device = choose(devices(scene.caps), seed >> 4);
  const wantsRid = pasid === 'rid' || (pasid === 'any' && (seed >> 8) % 3 === 0);
  return { device, pasid: wantsRid ? null : choose(pasids(scene.caps), seed >> 10) };
}

/** An existing domain (paging ones preferred when `paging`), sometimes an unknown id. */
function domainId(scene: Scene, seed: number, paging: boolean): DomainId {
  const candidates = paging ? scene.domains.filter(isPaging) : scene.domains;
  const pool = candidates.length > 0 ? candidates : scene.domains;
  if (pool.length > 0 && seed % 16 !== 0) return choose(pool, seed >> 4).id;
  return choose(DOMAIN_IDS, seed >> 4);
}

function pagingDomain(scene: Scene, id: DomainId): PagingView | undefined {
  return scene.domains.find((d): d is PagingView => d.id === id && isPaging(d));
}

/** A size that fits the domain's page sizes: 1G-scale sizes only where 1G leaves exist. */
function sizeFor(domain: PagingView | undefined, seed: number): bigint {
  const sizes = [K4, K4, 2n * K4, 3n * K4, 16n * K4, SIZE_2M - K4, SIZE_2M, SIZE_2M, SIZE_2M + K4, 2n * SIZE_2M, 3n * SIZE_2M];
  // 1G-scale ranges are rarer: an implementation without 1G leaves pays per 4K page for them.
  // (Not at 0: fast-check shrinks choices towards 0, which must stay the cheap ones.)
  const large = domain?.config.pageSizes.includes(SIZE_1G) && (seed >> 4) % 8 === 7;
  return large ? SIZE_1G : choose(sizes, seed);
}

/** The alignment that lets a range of this size hold the largest leaves: 1G, 2M or 4K. */
const alignmentOf = (size: bigint): bigint => (size >= SIZE_1G ? SIZE_1G : size >= SIZE_2M ? SIZE_2M : K4);

function mapCall(scene: Scene, intent: Extract<Intent, { kind: 'map' }>): Call {
  const id = domainId(scene, intent.pick, true);
  const d = pagingDomain(scene, id);
  const aperture = d?.config.aperture ?? 1n << 48n;
  const size = sizeFor(d, intent.size);
  const mine = d?.mappings ?? [];
  const others = scene.domains.filter((o) => o.id !== id).flatMap((o) => o.mappings);
  const unmapped = [...(d?.stale ?? []), ...scene.recentlyUnmapped.filter((r) => r.domain === id)];
  const align = alignmentOf(size);
  const sub = intent.place >> 3;
  const boundary = choose([...BOUNDARIES.filter((b) => b < aperture), aperture], sub);
  const placements: (() => bigint | undefined)[] = [
    () => choose([boundary, boundary - size, boundary - K4], sub >> 3), // at, ending at, straddling a boundary
    () => (mine.length ? choose(mine, sub).iova + choose(mine, sub).size : undefined), // right after a mapping
    () => (mine.length ? choose(mine, sub).iova - size : undefined), // right before a mapping
    () => (mine.length ? choose(mine, sub).iova + BigInt(sub % 3) * K4 : undefined), // overlapping: EEXIST
    () => (mine.length ? choose(mine, sub).iova - K4 : undefined), // free first page, then a conflict: atomicity
    () => (unmapped.length ? choose(unmapped, sub).iova : undefined), // remap a just-unmapped IOVA
    () => (d?.stale.length ? choose(d.stale, sub).iova : undefined), // remap inside a deferred window
    () => BigInt(1 + (sub % 7)) * align, // aligned: invites 2M/1G leaves
    () => BigInt(sub % 4096) * K4, // somewhere low
    () => aperture - size + BigInt(sub % 2) * K4, // the top of the aperture, or one page past it: ERANGE
    () => U64_LIMIT - K4, // iova + size wraps past 2^64: ERANGE, never a wrapped range
  ];
  const iova = choose(placements, intent.place)() ?? BigInt(sub % 512) * K4;
  // A physically contiguous neighbour: drivers map one buffer in pieces.
  const before = mine.find((e) => e.iova + e.size === iova);
  const after = mine.find((e) => e.iova === iova + size);
  const pas: (() => bigint | undefined)[] = [
    () => BigInt(1 + ((intent.pa >> 3) % 15)) * SIZE_1G + (iova % SIZE_1G), // congruent to the IOVA: leaves can be large
    () => BigInt(1 + ((intent.pa >> 3) % 15)) * SIZE_1G + (iova % SIZE_1G),
    () => (others.length ? choose(others, intent.pa >> 3).pa : undefined), // the same PA in two domains
    () => iova, // identity-like
    () => choose([PA_LIMIT - size, PA_LIMIT - size + K4, PA_LIMIT], intent.pa >> 3), // the top of PA space
    () => (1n << 32n) + BigInt((intent.pa >> 3) % 1024) * K4,
    () => (before ? before.pa + before.size : after ? after.pa - size : undefined), // contiguous with a neighbour
  ];
  // A 1G range is kept congruent: an implementation that cannot use a 1G leaf pays per 4K page.
  const neighbour = before ?? after;
  const extendsNeighbour = neighbour !== undefined && intent.pa % 3 === 0; // one buffer mapped in pieces
  const pa = (size >= SIZE_1G ? pas[0] : extendsNeighbour ? pas[pas.length - 1] : choose(pas, intent.pa))() ?? 0n;
  const prot = extendsNeighbour && (intent.pa >> 2) % 2 === 0 ? neighbour.prot : intent.prot;
  return { op: 'map', domain: id, iova: iova < 0n ? 0n : iova, pa: pa < 0n ? 0n : pa, size, prot };
}

function unmapCall(scene: Scene, intent: Extract<Intent, { kind: 'unmap' }>): Call {
  const id = domainId(scene, intent.pick, true);
  const d = pagingDomain(scene, id);
  const aperture = d?.config.aperture ?? 1n << 48n;
  const mine = d?.mappings ?? [];
  const sub = intent.range >> 4;
  // Cuts inside a range are what split large leaves: aim them at the large mappings.
  const large = mine.filter((m) => m.size >= SIZE_2M);
  const pool = large.length > 0 && (intent.range >> 13) % 2 === 0 ? large : mine;
  const e = pool.length ? choose(pool, sub) : { iova: BigInt(sub % 512) * K4, size: K4 };
  const end = e.iova + e.size;
  const middle = e.iova + ((e.size / 2n) / K4) * K4;
  const last = mine.length ? mine[mine.length - 1] : e;
  const span = last.iova + last.size - e.iova;
  const ranges: [bigint, bigint][] = [
    [e.iova, e.size], // exactly one mapping
    [e.iova, e.size],
    [e.iova, K4], // its first page
    [end - K4, K4], // its last page
    [middle, choose([K4, 2n * K4, SIZE_2M], sub >> 4)], // a page or block inside: splits a large leaf
    [e.iova + SIZE_2M + K4 < end ? e.iova + SIZE_2M + K4 : middle, K4], // a page inside the second 2M block
    [middle, end - middle + choose([K4, SIZE_2M], sub >> 4)], // from inside to past its end
    span > 0n && span <= 16n * SIZE_2M ? [e.iova, span] : [e.iova, e.size], // several mappings at once
    [BigInt(sub % 4096) * K4 + (1n << 40n) % aperture, K4], // nothing mapped there
    [aperture - K4, choose([K4, 2n * K4], sub >> 4)], // the top of the aperture; past it: ERANGE
    [U64_LIMIT - K4, 2n * K4], // wraps past 2^64: ERANGE
  ];
  const [iova, size] = choose(ranges, intent.range);
  return { op: 'unmap', domain: id, iova, size: size > 0n ? size : K4 };
}

function createCall(scene: Scene, intent: Extract<Intent, { kind: 'createDomain' }>): Call {
  const used = new Set(scene.domains.map((d) => d.id));
  const free = DOMAIN_IDS.filter((id) => !used.has(id));
  const ids: (() => DomainId | undefined)[] = [
    () => free[0],
    () => free[0],
    () => free[0],
    () => free[0],
    () => choose(DOMAIN_IDS, intent.id >> 4), // may be in use: EEXIST
    () => scene.destroyed[scene.destroyed.length - 1], // re-create a destroyed id
    () => choose(EDGE_DOMAIN_IDS, intent.id >> 4),
  ];
  const id = choose(ids, intent.id)() ?? choose(DOMAIN_IDS, intent.id >> 4);
  const options = intent.invalid % 25 === 0 ? choose(INVALID_OPTIONS, intent.invalid >> 5) : choose(scene.kinds, intent.shape);
  const isDefault = typeof options === 'object' && options !== null && Object.keys(options).length === 0 && intent.shape % 2 === 0;
  return isDefault ? { op: 'createDomain', id } : { op: 'createDomain', id, options: options as DomainOptions };
}

function destroyCall(scene: Scene, intent: Extract<Intent, { kind: 'destroyDomain' }>): Call {
  const busy = new Set(scene.attachments.map((a) => a.domain));
  const idle = scene.domains.filter((d) => !busy.has(d.id));
  if (idle.length > 0 && intent.pick % 4 !== 0) return { op: 'destroyDomain', id: choose(idle, intent.pick >> 2).id };
  return { op: 'destroyDomain', id: domainId(scene, intent.pick >> 2, false) };
}

/** Where a run of fresh pages fits in a domain: past its highest mapping, 2M-aligned. */
function freeBase(d: PagingView): bigint {
  const top = d.mappings.reduce((end, e) => (e.iova + e.size > end ? e.iova + e.size : end), 0n);
  return ((top + SIZE_2M - 1n) / SIZE_2M) * SIZE_2M;
}

/**
 * A driver's buffer churn: `count` buffers mapped one by one, then freed one by one (more
 * unmaps than a small flush queue holds, each page translated in between by the probes).
 */
function churnCalls(scene: Scene, intent: Extract<Intent, { kind: 'churn' }>): Call[] {
  const d = pagingDomain(scene, domainId(scene, intent.pick, true));
  if (d === undefined) return [];
  const base = freeBase(d);
  const count = 6 + (intent.count % 14);
  const pa = (1n << 33n) + BigInt(intent.count % 64) * SIZE_2M;
  const pages = Array.from({ length: count }, (_, k) => BigInt(k) * K4);
  return [
    ...pages.map((off): Call => ({ op: 'map', domain: d.id, iova: base + off, pa: pa + off, size: K4, prot: 3 })),
    ...pages.map((off): Call => ({ op: 'unmap', domain: d.id, iova: base + off, size: K4 })),
  ];
}

/** One buffer mapped in 2 to 4 pieces, contiguous in IOVA and PA, with the same prot. */
function mapPiecesCalls(scene: Scene, intent: Extract<Intent, { kind: 'mapPieces' }>): Call[] {
  const d = pagingDomain(scene, domainId(scene, intent.pick, true));
  if (d === undefined) return [];
  const piece = choose([K4, 2n * K4, SIZE_2M / 2n, SIZE_2M], intent.count >> 2);
  const base = freeBase(d);
  const pa = (1n << 34n) + BigInt(intent.count % 64) * SIZE_2M;
  return Array.from({ length: 2 + (intent.count % 3) }, (_, k): Call => ({
    op: 'map', domain: d.id, iova: base + BigInt(k) * piece, pa: pa + BigInt(k) * piece, size: piece, prot: intent.prot,
  }));
}

/** The options that create a domain of this configuration again. */
function optionsOf(config: DomainConfig): DomainOptions {
  if (config.type !== 'paging') return { type: config.type };
  const { levels, pageSizes, invalidation, unmap, aperture } = config;
  return { levels, pageSizes: [...pageSizes], invalidation, unmap, aperture };
}

/**
 * A driver's teardown and reuse of a domain id: detach every user, destroy, create the same id
 * again (same kind, or another), attach the same users. Stale state keyed by the id shows here.
 * Or an unbind and rebind: detach every user, change the domain meanwhile (unmap its newest
 * mapping), attach them again; invalidations must reach caches of detached users too.
 */
function recycleCalls(scene: Scene, intent: Extract<Intent, { kind: 'recycle' }>): Call[] {
  const used = scene.domains.filter((d) => scene.attachments.some((a) => a.domain === d.id));
  const domain = choose(used.length > 0 ? used : scene.domains, intent.pick);
  if (domain === undefined) return [];
  const users = scene.attachments.filter((a) => a.domain === domain.id);
  const options = intent.shape % 2 === 0 ? optionsOf(domain.config) : (choose(scene.kinds, intent.shape >> 1) as DomainOptions);
  const newest = domain.mappings[domain.mappings.length - 1];
  const meanwhile: Call[] =
    intent.shape % 3 === 2 && newest
      ? [{ op: 'unmap', domain: domain.id, iova: newest.iova, size: newest.size }]
      : [{ op: 'destroyDomain', id: domain.id }, { op: 'createDomain', id: domain.id, options }];
  return [
    ...users.map((a): Call => (a.pasid === null ? { op: 'detachDevice', device: a.device } : { op: 'detachPasid', device: a.device, pasid: a.pasid })),
    ...meanwhile,
    ...users.map((a): Call =>
      a.pasid === null ? { op: 'attachDevice', device: a.device, domain: domain.id } : { op: 'attachPasid', device: a.device, pasid: a.pasid, domain: domain.id },
    ),
  ];
}

/** A DMA of `pages` pages: one translate per page, at an IOVA that matters for the target. */
function dmaCalls(scene: Scene, intent: Extract<Intent, { kind: 'dma' }>): Call[] {
  const t = target(scene, intent.target, 'any');
  const attached = scene.attachments.find((a) => a.device === t.device && a.pasid === t.pasid);
  const own = scene.domains.find((d) => d.id === attached?.domain);
  const sub = intent.place >> 3;
  const mine = own?.mappings ?? [];
  const others = scene.domains.filter((d) => d !== own).flatMap((d) => [...d.mappings, ...d.stale]);
  const places: (() => bigint | undefined)[] = [
    () => (mine.length ? choose(mine, sub).iova : undefined),
    () => (mine.length ? choose(mine, sub).iova + choose(mine, sub).size - K4 : undefined),
    () => (mine.length ? choose(mine, sub).iova + (BigInt(sub) * K4) % choose(mine, sub).size : undefined),
    () => (own?.stale.length ? choose(own.stale, sub).iova : undefined), // in a deferred window
    () => (others.length ? choose(others, sub).iova : undefined), // another domain's page: isolation
    () => (scene.recentlyUnmapped.length ? choose(scene.recentlyUnmapped, sub).iova : undefined),
    () => (scene.pastMappings.length ? choose(scene.pastMappings, sub).iova : undefined), // e.g. of a destroyed domain
    () => choose([...BOUNDARIES, 1n << 57n, PA_LIMIT, U64_LIMIT - K4], sub) - (sub % 2 === 0 ? 0n : K4),
    () => (own?.config.type === 'paging' ? own.config.aperture - BigInt(sub % 2) * K4 : undefined), // the aperture's edge
    () => (own?.config.type === 'identity' ? choose([PA_LIMIT - K4, PA_LIMIT, PA_LIMIT + SIZE_1G, U64_LIMIT - K4], sub) : undefined), // PA width
    () => (mine.length ? choose(mine, sub).iova + choose(LEVEL_STRIDES, sub >> 3) : undefined), // aliases at a level boundary
  ];
  const base = choose(places, intent.place)() ?? BigInt(sub % 512) * K4;
  const offset = intent.offset % 3 === 0 ? BigInt(intent.offset % 4096) : 0n;
  const access = intent.write ? 'write' : 'read';
  const calls: Call[] = [];
  for (let page = 0; page < intent.pages; page++) {
    const iova = (base < 0n ? 0n : base) + BigInt(page) * K4 + offset;
    if (iova < U64_LIMIT) calls.push({ op: 'translate', device: t.device, pasid: t.pasid, iova, access });
  }
  return calls;
}

/** One call with an argument out of its range: every method must answer EINVAL, never throw. */
function invalidCall(scene: Scene, intent: Extract<Intent, { kind: 'invalid' }>): Call {
  const caps = scene.caps;
  const d = domainId(scene, intent.pick, true);
  const representable: Call[] = [
    { op: 'translate', device: 0, pasid: 0, iova: 0n, access: 'read' },
    { op: 'translate', device: 2 ** caps.deviceIdBits, pasid: null, iova: 0n, access: 'read' },
    { op: 'translate', device: 0, pasid: 2 ** caps.pasidBits, iova: 0n, access: 'write' },
    { op: 'translate', device: 0, pasid: null, iova: U64_LIMIT, access: 'read' },
    { op: 'attachPasid', device: 0, pasid: 0, domain: d },
    { op: 'attachPasid', device: 0, pasid: 2 ** caps.pasidBits, domain: d },
    { op: 'detachPasid', device: 2 ** caps.deviceIdBits, pasid: 1 },
    { op: 'attachDevice', device: 0, domain: 2 ** 32 },
    { op: 'map', domain: d, iova: U64_LIMIT, pa: 0n, size: K4, prot: 3 },
    { op: 'map', domain: d, iova: 0n, pa: 0n, size: K4, prot: 0 },
    { op: 'map', domain: d, iova: 0n, pa: 0n, size: K4, prot: 4 },
    { op: 'unmap', domain: d, iova: 0n, size: U64_LIMIT },
    { op: 'unmap', domain: 2 ** 32, iova: 0n, size: K4 },
    { op: 'unmap', domain: d, iova: U64_LIMIT, size: K4 },
    { op: 'flush', domain: 2 ** 32 },
    { op: 'createDomain', id: 2 ** 32 },
    { op: 'destroyDomain', id: 2 ** 32 },
    { op: 'detachDevice', device: 2 ** caps.deviceIdBits },
    // In range, but refused by the rules of map and unmap: a size of 0 and misalignment.
    { op: 'map', domain: d, iova: 0x800n, pa: 0n, size: K4, prot: 3 },
    { op: 'map', domain: d, iova: 0n, pa: 0x10n, size: K4, prot: 3 },
    { op: 'map', domain: d, iova: 0n, pa: 0n, size: 0x1800n, prot: 3 },
    { op: 'map', domain: d, iova: 0n, pa: 0n, size: 0n, prot: 3 },
    { op: 'unmap', domain: d, iova: 0n, size: 0n },
    { op: 'unmap', domain: d, iova: 0x800n, size: K4 },
    { op: 'unmap', domain: d, iova: 0n, size: 0x1800n },
  ];
  // Out of range in ways only JavaScript callers can produce.
  const typed = [
    { op: 'translate', device: 0, pasid: undefined, iova: 0n, access: 'read' },
    { op: 'translate', device: 0, pasid: null, iova: 4096, access: 'read' },
    { op: 'translate', device: 0.5, pasid: null, iova: 0n, access: 'read' },
    { op: 'translate', device: 0, pasid: null, iova: -4096n, access: 'read' },
    { op: 'translate', device: 0, pasid: null, iova: 0n, access: 'exec' },
    { op: 'map', domain: d, iova: 0x1000, pa: 0n, size: K4, prot: 3 },
    { op: 'map', domain: d, iova: 0n, pa: 0n, size: K4, prot: '3' },
    { op: 'map', domain: Number.NaN, iova: 0n, pa: 0n, size: K4, prot: 3 },
    { op: 'unmap', domain: d, iova: 0n, size: -K4 },
    { op: 'createDomain', id: -1 },
    { op: 'destroyDomain', id: 1.5 },
    { op: 'detachDevice', device: Number.POSITIVE_INFINITY },
  ] as unknown as Call[];
  return choose(scene.representableOnly ? representable : [...representable, ...typed], intent.variant);
}

/** The calls an intent stands for in this scene (a DMA may be several translations). */
export function resolve(scene: Scene, intent: Intent): Call[] {
  switch (intent.kind) {
    case 'createDomain':
      return [createCall(scene, intent)];
    case 'destroyDomain':
      return [destroyCall(scene, intent)];
    case 'attachDevice': {
      const { device } = target(scene, intent.target, 'rid');
      return [{ op: 'attachDevice', device, domain: domainId(scene, intent.pick, false) }];
    }
    case 'detachDevice':
      return [{ op: 'detachDevice', device: target(scene, intent.target, 'rid').device }];
    case 'attachPasid': {
      const t = target(scene, intent.target, 'pasid', 2); // mostly a free PASID; sometimes a busy one
      return [{ op: 'attachPasid', device: t.device, pasid: t.pasid ?? 1, domain: domainId(scene, intent.pick, false) }];
    }
    case 'detachPasid': {
      const t = target(scene, intent.target, 'pasid');
      return [{ op: 'detachPasid', device: t.device, pasid: t.pasid ?? 1 }];
    }
    case 'map':
      return [mapCall(scene, intent)];
    case 'unmap':
      return [unmapCall(scene, intent)];
    case 'flush': {
      // Now and then every paging domain in turn, as a flush-queue timer drains them all.
      const all = scene.domains.filter(isPaging);
      if (intent.pick % 2 !== 0 || all.length < 2) return [{ op: 'flush', domain: domainId(scene, intent.pick >> 2, true) }];
      const from = (intent.pick >> 2) % all.length;
      return [...all.slice(from), ...all.slice(0, from)].map((d): Call => ({ op: 'flush', domain: d.id }));
    }
    case 'dma':
      return dmaCalls(scene, intent);
    case 'invalid':
      return [invalidCall(scene, intent)];
    case 'recycle':
      return recycleCalls(scene, intent);
    case 'churn':
      return churnCalls(scene, intent);
    case 'mapPieces':
      return mapPiecesCalls(scene, intent);
  }
}
