// Resolving the intents of domain lifetimes and attachments: create, destroy, recycle.
import { SIZE_2M, type Call, type DomainId, type DomainOptions } from '../../model/types.ts';
import type { DomainConfig } from '../../model/validate.ts';
import type { Intent } from './intents.ts';
import { DOMAIN_IDS, EDGE_DOMAIN_IDS, choose, domainId, isParentKind, type Scene } from './scene.ts';

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

export function createCall(scene: Scene, intent: Extract<Intent, { kind: 'createDomain' }>): Call {
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
  const kind = intent.invalid % 25 === 0 ? choose(INVALID_OPTIONS, intent.invalid >> 5) : choose(scene.kinds, intent.shape);
  const options = (kind as DomainOptions | null)?.type === 'nested' ? withParent(scene, kind as DomainOptions, intent.shape >> 5) : kind;
  const isDefault = typeof options === 'object' && options !== null && Object.keys(options).length === 0 && intent.shape % 2 === 0;
  return isDefault ? { op: 'createDomain', id } : { op: 'createDomain', id, options: options as DomainOptions };
}

/**
 * A nested kind gets a parent: mostly a paging domain of the scene (one with nested domains
 * already, now and then: several over one parent), sometimes one that cannot be a parent (a
 * nested, identity or blocked domain: EINVAL) or an unknown id (ENOENT).
 */
function withParent(scene: Scene, kind: DomainOptions, seed: number): DomainOptions {
  const parents = scene.domains.filter(isParentKind);
  const others = scene.domains.filter((d) => !isParentKind(d));
  const picks: (() => DomainId | undefined)[] = [
    () => (parents.length ? choose(parents, seed >> 3).id : undefined),
    () => (parents.length ? choose(parents, seed >> 3).id : undefined),
    () => (parents.length ? choose(parents, seed >> 3).id : undefined),
    () => (parents.length ? choose(parents, seed >> 3).id : undefined),
    () => (parents.length ? choose(parents, seed >> 3).id : undefined),
    () => (others.length ? choose(others, seed >> 3).id : undefined),
    () => (others.length ? choose(others, seed >> 3).id : undefined),
    () => choose(DOMAIN_IDS, seed >> 3),
  ];
  return { ...kind, parent: choose(picks, seed)() ?? choose(DOMAIN_IDS, seed >> 3) };
}

export function destroyCall(scene: Scene, intent: Extract<Intent, { kind: 'destroyDomain' }>): Call {
  const busy = new Set(scene.attachments.map((a) => a.domain));
  const idle = scene.domains.filter((d) => !busy.has(d.id));
  if (idle.length > 0 && intent.pick % 4 !== 0) return { op: 'destroyDomain', id: choose(idle, intent.pick >> 2).id };
  return { op: 'destroyDomain', id: domainId(scene, intent.pick >> 2, false) };
}

/** The options that create a domain of this configuration again. */
export function optionsOf(config: DomainConfig): DomainOptions {
  if (config.type === 'identity' || config.type === 'blocked') return { type: config.type };
  const { levels, pageSizes, invalidation, unmap, aperture } = config;
  const table = { levels, pageSizes: [...pageSizes], invalidation, unmap, aperture };
  return config.type === 'nested' ? { type: 'nested', parent: config.parent, ...table } : table;
}

/**
 * A driver's teardown and reuse of a domain id: detach every user, destroy, create the same id
 * again (same kind, or another), attach the same users. Stale state keyed by the id shows here.
 * Or an unbind and rebind: detach every user, change the domain meanwhile (unmap its newest
 * mapping), attach them again; invalidations must reach caches of detached users too.
 */
export function recycleCalls(scene: Scene, intent: Extract<Intent, { kind: 'recycle' }>): Call[] {
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
