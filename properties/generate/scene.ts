// The scene the generators resolve intents against: the model's state plus the harness's short
// memory, and the pools and pickers shared by every resolver (few ids, so that they collide).
import type { AttachmentView, DomainView } from '../../model/reference.ts';
import type { Call } from '../../model/ops.ts';
export { BOUNDARIES, LEVEL_STRIDES } from '../geometry.ts';
import { SIZE_2M, SIZE_4K, type DomainId, type DomainOptions, type Pasid } from '../../model/types.ts';
import { hasTable, type DomainConfig, type ResolvedCapabilities, type TableConfig } from '../../model/validate.ts';

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

const RECENT = 8;

/** The harness's short memory of a run, for the generators: recent mappings and unmaps, destroyed ids. */
export class SceneMemory {
  readonly recentlyUnmapped: Range[] = [];
  readonly pastMappings: Range[] = [];
  readonly destroyed: DomainId[] = [];

  /** Records a call that the implementation answered with success. */
  succeeded(call: Call): void {
    if (call.op === 'destroyDomain') this.destroyed.push(call.id);
    if (call.op === 'map') remember(this.pastMappings, { domain: call.domain, iova: call.iova, size: call.size });
    if (call.op === 'unmap') remember(this.recentlyUnmapped, { domain: call.domain, iova: call.iova, size: call.size });
  }
}

function remember(ranges: Range[], range: Range): void {
  ranges.push(range);
  if (ranges.length > RECENT) ranges.shift();
}

/** A domain with a page table: paging, or nested (whose table gives IPAs). */
export type PagingView = DomainView & { readonly config: Extract<DomainConfig, TableConfig> };

export const K4 = SIZE_4K;
export const DOMAIN_IDS = [1, 2, 3, 4];
/** Edges of the id space, and ids that alias small ones under a 16-bit mask. */
export const EDGE_DOMAIN_IDS = [0, 0xffff_ffff, 0x1_0001];

export const choose = <T>(items: readonly T[], seed: number): T => items[seed % items.length];
export const isPaging = (d: DomainView): d is PagingView => hasTable(d.config);
/** A paging domain proper: one that can be a parent. */
export const isParentKind = (d: DomainView): boolean => d.config.type === 'paging';
/** The nested domains over a domain. */
export const nestedOver = (domains: readonly DomainView[], id: DomainId): DomainView[] =>
  domains.filter((d) => d.config.type === 'nested' && d.config.parent === id);

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

/** v2, with `nesting` declared: nested domains (their parent is picked when one is created). */
export const NESTED_DOMAIN_KINDS: readonly Partial<DomainOptions>[] = [
  { type: 'nested' },
  { type: 'nested', invalidation: 'deferred' },
  { type: 'nested', unmap: 'whole' },
  { type: 'nested', levels: 3 },
  { type: 'nested', pageSizes: [K4] },
];

/** v2, with `dirtyTracking` declared: domains that record dirty pages. */
export const DIRTY_DOMAIN_KINDS: readonly Partial<DomainOptions>[] = [
  { dirtyTracking: true },
  { dirtyTracking: true, invalidation: 'deferred' },
  { dirtyTracking: true, pageSizes: [K4, SIZE_2M] },
  { dirtyTracking: true, unmap: 'whole' },
];

/** Whether a domain records dirty pages. */
export const isTracked = (d: DomainView): d is PagingView => d.config.type === 'paging' && d.config.dirtyTracking === true;

/** Few ids so that they collide; plus the top id and ids that alias 0 or 1 under 8/16-bit masks. */
export function devices(caps: ResolvedCapabilities): number[] {
  const edges = [2 ** caps.deviceIdBits - 1, 0x100, 0x1_0000].filter((d) => d < 2 ** caps.deviceIdBits);
  return [0, 1, 2, 0, 1, 2, 0, 1, ...edges];
}

export function pasids(caps: ResolvedCapabilities): number[] {
  const edges = [2 ** caps.pasidBits - 1, 0x101, 0x1_0001].filter((p) => p < 2 ** caps.pasidBits);
  return [1, 2, 3, 1, 2, 3, 1, 2, ...edges];
}

/** A (device, PASID or RID) target: mostly one that is attached, else any from the pools. */
export function target(scene: Scene, seed: number, pasid: 'rid' | 'pasid' | 'any', attachedShare = 7): { device: number; pasid: Pasid } {
  const attached = scene.attachments.filter((a) => pasid === 'any' || (pasid === 'rid') === (a.pasid === null));
  if (attached.length > 0 && seed % 10 < attachedShare) {
    const a = choose(attached, seed >> 4);
    return { device: a.device, pasid: a.pasid };
  }
  const device = choose(devices(scene.caps), seed >> 4);
  // With pasidBits 0 there is no PASID traffic: only RID traffic is generated (bad PASIDs aside).
  const wantsRid = pasid === 'rid' || (pasid === 'any' && ((seed >> 8) % 3 === 0 || scene.caps.pasidBits === 0));
  return { device, pasid: wantsRid ? null : choose(pasids(scene.caps), seed >> 10) };
}

/** An existing domain (paging ones preferred when `paging`), sometimes an unknown id. */
export function domainId(scene: Scene, seed: number, paging: boolean): DomainId {
  const candidates = paging ? scene.domains.filter(isPaging) : scene.domains;
  const pool = candidates.length > 0 ? candidates : scene.domains;
  if (pool.length > 0 && seed % 16 !== 0) return choose(pool, seed >> 4).id;
  return choose(DOMAIN_IDS, seed >> 4);
}

export function pagingDomain(scene: Scene, id: DomainId): PagingView | undefined {
  return scene.domains.find((d): d is PagingView => d.id === id && isPaging(d));
}
