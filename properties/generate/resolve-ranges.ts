// Resolving the intents that change mappings: map, unmap, buffer churn, buffers in pieces.
// Biased to page-table boundaries, neighbours, interiors, large aligned ranges and their splits.
import { PA_LIMIT, SIZE_1G, SIZE_2M, U64_LIMIT, type Call, type DomainId, type DomainOptions, type Pasid } from '../../model/types.ts';
import type { Intent } from './intents.ts';
import { BOUNDARIES, K4, choose, devices, domainId, isPaging, pagingDomain, target, type PagingView, type Scene } from './scene.ts';

/** A size that fits the domain's page sizes: 1G-scale sizes only where 1G leaves exist. */
export function sizeFor(domain: PagingView | undefined, seed: number): bigint {
  const sizes = [K4, K4, 2n * K4, 3n * K4, 16n * K4, SIZE_2M - K4, SIZE_2M, SIZE_2M, SIZE_2M + K4, 2n * SIZE_2M, 3n * SIZE_2M];
  // 1G-scale ranges are rarer: an implementation without 1G leaves pays per 4K page for them.
  // (Not at 0: fast-check shrinks choices towards 0, which must stay the cheap ones.)
  const large = domain?.config.pageSizes.includes(SIZE_1G) && (seed >> 4) % 8 === 7;
  return large ? SIZE_1G : choose(sizes, seed);
}

/** The alignment that lets a range of this size hold the largest leaves: 1G, 2M or 4K. */
const alignmentOf = (size: bigint): bigint => (size >= SIZE_1G ? SIZE_1G : size >= SIZE_2M ? SIZE_2M : K4);

export function mapCall(scene: Scene, intent: Extract<Intent, { kind: 'map' }>): Call {
  const id = domainId(scene, intent.pick, true);
  const d = pagingDomain(scene, id);
  const aperture = d?.config.aperture ?? 1n << 48n;
  const mine = d?.mappings ?? [];
  // A page still in a deferred window, free again: remapping it before the flush is where
  // invalidation queues go wrong (a cancelled descriptor, a reused IOVA), so it comes often.
  const window = (d?.stale ?? []).filter((s) => !mine.some((e) => e.iova < s.iova + s.size && s.iova < e.iova + e.size));
  const remap = window.length > 0 && intent.place % 4 === 0 ? choose(window, intent.place >> 2) : undefined;
  const size = remap?.size ?? sizeFor(d, intent.size);
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
  const iova = remap?.iova ?? choose(placements, intent.place)() ?? BigInt(sub % 512) * K4;
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
  // A nested domain's "PA" is an IPA: mostly one that its parent maps, so that both stages translate.
  const parent = d?.config.type === 'nested' ? pagingDomain(scene, d.config.parent) : undefined;
  const ipa = parent?.mappings.length && intent.pa % 4 !== 3 ? choose(parent.mappings, intent.pa >> 3).iova : undefined;
  const pa = ipa ?? (size >= SIZE_1G ? pas[0] : extendsNeighbour ? pas[pas.length - 1] : choose(pas, intent.pa))() ?? 0n;
  const prot = extendsNeighbour && (intent.pa >> 2) % 2 === 0 ? neighbour.prot : intent.prot;
  return { op: 'map', domain: id, iova: iova < 0n ? 0n : iova, pa: pa < 0n ? 0n : pa, size, prot };
}

export function unmapCall(scene: Scene, intent: Extract<Intent, { kind: 'unmap' }>): Call {
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

/** Where a run of fresh pages fits in a domain: past its highest mapping, 2M-aligned. */
export function freeBase(d: PagingView): bigint {
  const top = d.mappings.reduce((end, e) => (e.iova + e.size > end ? e.iova + e.size : end), 0n);
  return ((top + SIZE_2M - 1n) / SIZE_2M) * SIZE_2M;
}

/**
 * A driver's buffer churn: `count` buffers mapped one by one, then freed one by one (more
 * unmaps than a small flush queue holds, each page translated in between by the probes).
 */
export function churnCalls(scene: Scene, intent: Extract<Intent, { kind: 'churn' }>): Call[] {
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

/** Long, quiet sequences (run without probes, which would fill a small IOTLB) between a cached
 * translation and its reuse: a counter that wraps after 2^k rounds (k <= 8) brings it back. */
const STORM_ROUNDS = [17, 17, 17, 17, 65, 257];
/** Domain ids the storm's own domains use: outside the pools, so nothing else names them. */
const STORM_DOMAIN_IDS = 0x5000;

/** Attach, detach and translate calls for one (device, PASID or RID) source. */
export function sourceCalls(device: number, pasid: Pasid) {
  return {
    attach: (domain: DomainId): Call => (pasid === null ? { op: 'attachDevice', device, domain } : { op: 'attachPasid', device, pasid, domain }),
    detach: (): Call => (pasid === null ? { op: 'detachDevice', device } : { op: 'detachPasid', device, pasid }),
    read: (iova: bigint): Call => ({ op: 'translate', device, pasid, iova, access: 'read' }),
    write: (iova: bigint): Call => ({ op: 'translate', device, pasid, iova, access: 'write' }),
  };
}

/**
 * A storm: a page is mapped and translated (so cached), then made dead, and translated again
 * after each of many rounds that a design may count with a wrapping counter. Two flavours:
 * - invalidations: the page is unmapped (and, half the time, mapped again to another PA, read
 *   only, and flushed alone); each round maps, unmaps and flushes two 32-page buffers
 *   in the same domain (a domain-wide invalidation in many designs: a new generation);
 * - domains: the page's domain is destroyed; each round creates a domain, attaches the same
 *   source to it, translates, detaches and destroys it (a new hardware tag: ASID/VMID/DID).
 */
export function stormCalls(scene: Scene, intent: Extract<Intent, { kind: 'storm' }>): Call[] {
  const rounds = choose(STORM_ROUNDS, intent.rounds >> 2);
  if (intent.rounds % 2 === 1) return domainStorm(scene, intent.pick, rounds);
  return invalidationStorm(scene, intent.pick, rounds, (intent.rounds >> 1) % 2 === 1);
}

/** With `remap`, the page is mapped again (to another PA) before the first flush. */
function invalidationStorm(scene: Scene, pick: number, rounds: number, remap: boolean): Call[] {
  const paging = scene.domains.filter(isPaging);
  const watched = paging.filter((d) => scene.attachments.some((a) => a.domain === d.id));
  const d = choose(watched.length > 0 ? watched : paging, pick);
  if (d === undefined) return [];
  const user = scene.attachments.find((a) => a.domain === d.id);
  const source = sourceCalls(user?.device ?? choose(devices(scene.caps), pick >> 4), user?.pasid ?? null);
  const page = freeBase(d);
  const pa = (1n << 35n) + BigInt(pick % 64) * SIZE_2M;
  const buffers = [page + SIZE_2M, page + 2n * SIZE_2M];
  const bufferSize = 32n * K4;
  const round: Call[] = [
    ...buffers.map((iova, k): Call => ({ op: 'map', domain: d.id, iova, pa: pa + BigInt(k + 1) * SIZE_2M, size: bufferSize, prot: 3 })),
    ...buffers.map((iova): Call => ({ op: 'unmap', domain: d.id, iova, size: bufferSize })),
    { op: 'flush', domain: d.id },
    source.read(page),
  ];
  return [
    ...(user ? [] : [source.attach(d.id)]),
    { op: 'map', domain: d.id, iova: page, pa, size: K4, prot: 3 },
    source.read(page),
    { op: 'unmap', domain: d.id, iova: page, size: K4 },
    // Remapped: a flush of its own first (a lone range, not a new generation), then the rounds.
    ...(remap ? [{ op: 'map', domain: d.id, iova: page, pa: pa + 4n * SIZE_2M, size: K4, prot: 1 } as const, source.read(page), { op: 'flush', domain: d.id } as const, source.read(page)] : []),
    ...Array.from({ length: rounds }, () => round).flat(),
  ];
}

function domainStorm(scene: Scene, pick: number, rounds: number): Call[] {
  // The source of the watched page: any from the pools (RID or PASID); its attachment moves.
  const { device, pasid } = target(scene, pick, 'any');
  const source = sourceCalls(device, pasid);
  const owner = STORM_DOMAIN_IDS;
  // Domains of a kind asked for (CheckOptions.domains), a paging one if any.
  const kind = scene.kinds.find((k) => k.type === undefined || k.type === 'paging') ?? choose(scene.kinds, pick) ?? {};
  const create = (id: DomainId): Call => ({ op: 'createDomain', id, options: kind as DomainOptions });
  const page = BigInt(pick % 512) * K4;
  const pa = (1n << 36n) + BigInt(pick % 64) * SIZE_2M;
  const round = (k: number): Call[] => [
    create(owner + 1 + k),
    source.attach(owner + 1 + k),
    source.read(page),
    source.detach(),
    { op: 'destroyDomain', id: owner + 1 + k },
  ];
  const before = scene.attachments.some((a) => a.device === device && a.pasid === pasid) && pasid !== null ? [source.detach()] : [];
  return [
    ...before,
    create(owner),
    source.attach(owner),
    { op: 'map', domain: owner, iova: page, pa, size: K4, prot: 3 },
    source.read(page),
    source.detach(),
    { op: 'destroyDomain', id: owner },
    ...Array.from({ length: rounds }, (_, k) => round(k)).flat(),
  ];
}

/** One buffer mapped in 2 to 4 pieces, contiguous in IOVA and PA, with the same prot. */
export function mapPiecesCalls(scene: Scene, intent: Extract<Intent, { kind: 'mapPieces' }>): Call[] {
  const d = pagingDomain(scene, domainId(scene, intent.pick, true));
  if (d === undefined) return [];
  const piece = choose([K4, 2n * K4, SIZE_2M / 2n, SIZE_2M], intent.count >> 2);
  const base = freeBase(d);
  const pa = (1n << 34n) + BigInt(intent.count % 64) * SIZE_2M;
  return Array.from({ length: 2 + (intent.count % 3) }, (_, k): Call => ({
    op: 'map', domain: d.id, iova: base + BigInt(k) * piece, pa: pa + BigInt(k) * piece, size: piece, prot: intent.prot,
  }));
}
