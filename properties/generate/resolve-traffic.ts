// Resolving DMA traffic (translations that matter for the target) and out-of-range calls.
import { PA_LIMIT, SIZE_1G, U64_LIMIT, type Call } from '../../model/types.ts';
import type { Intent } from './intents.ts';
import { BOUNDARIES, K4, LEVEL_STRIDES, choose, domainId, isTracked, target, type Scene } from './scene.ts';

/** A DMA of `pages` pages: one translate per page, at an IOVA that matters for the target. */
export function dmaCalls(scene: Scene, intent: Extract<Intent, { kind: 'dma' }>): Call[] {
  const t = target(scene, intent.target, 'any');
  const attached = scene.attachments.find((a) => a.device === t.device && a.pasid === t.pasid);
  const own = scene.domains.find((d) => d.id === attached?.domain);
  const sub = intent.place >> 3;
  const mine = own?.mappings ?? [];
  const others = scene.domains.filter((d) => d !== own).flatMap((d) => [...d.mappings, ...d.stale]);
  const identityEdge = () => (own?.config.type === 'identity' ? choose([PA_LIMIT - K4, PA_LIMIT, PA_LIMIT + SIZE_1G, U64_LIMIT - K4], sub) : undefined);
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
    identityEdge, // PA width
    () => (mine.length ? choose(mine, sub).iova + choose(LEVEL_STRIDES, sub >> 3) : undefined), // aliases at a level boundary
  ];
  // An identity domain's answers differ only around the PA width: aim there half the time.
  const base = (own?.config.type === 'identity' && intent.place % 2 === 0 ? identityEdge() : choose(places, intent.place)()) ?? BigInt(sub % 512) * K4;
  const offset = intent.offset % 3 === 0 ? BigInt(intent.offset % 4096) : 0n;
  const access = intent.write ? 'write' : 'read';
  const calls: Call[] = [];
  for (let page = 0; page < intent.pages; page++) {
    const iova = (base < 0n ? 0n : base) + BigInt(page) * K4 + offset;
    if (iova < U64_LIMIT) calls.push({ op: 'translate', device: t.device, pasid: t.pasid, iova, access });
  }
  return calls;
}

/**
 * One call with an argument out of its range (every method must answer EINVAL, never throw), or
 * in range but refused by a method's own rules (a size of 0, misalignment). The operation is
 * chosen first, so that each gets an even share whatever its number of variants.
 */
export function invalidCall(scene: Scene, intent: Extract<Intent, { kind: 'invalid' }>): Call {
  const byOp = new Map<string, Call[]>();
  const add = (group: string, call: Call) => byOp.set(group, [...(byOp.get(group) ?? []), call]);
  const { outOfRange, refused } = invalidVariants(scene, intent.pick);
  for (const call of outOfRange) add(call.op, call);
  for (const call of refused) add(`${call.op} ${'size' in call && call.size === 0n ? 'size 0' : 'unaligned'}`, call);
  const ops = [...byOp.values()];
  const variants = choose(ops, intent.variant);
  return choose(variants, Math.floor(intent.variant / ops.length));
}

/** Calls out of range, and calls in range that a method's own rules refuse (a size of 0, misalignment). */
function invalidVariants(scene: Scene, pick: number): { outOfRange: Call[]; refused: Call[] } {
  const caps = scene.caps;
  const d = domainId(scene, pick, true);
  const representable: Call[] = [
    { op: 'translate', device: 0, pasid: 0, iova: 0n, access: 'read' },
    { op: 'translate', device: 2 ** caps.deviceIdBits, pasid: null, iova: 0n, access: 'read' },
    { op: 'translate', device: 0, pasid: 2 ** caps.pasidBits, iova: 0n, access: 'write' },
    { op: 'translate', device: 0, pasid: null, iova: U64_LIMIT, access: 'read' },
    { op: 'attachPasid', device: 0, pasid: 0, domain: d },
    { op: 'attachPasid', device: 0, pasid: 2 ** caps.pasidBits, domain: d },
    { op: 'detachPasid', device: 2 ** caps.deviceIdBits, pasid: 1 },
    { op: 'detachPasid', device: 0, pasid: 0 },
    { op: 'attachDevice', device: 0, domain: 2 ** 32 },
    { op: 'attachDevice', device: 2 ** caps.deviceIdBits, domain: d },
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
  ];
  const refused: Call[] = [
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
    { op: 'flush', domain: '1' },
    ...(caps.dirtyTracking ? [{ op: 'setDirtyTracking', domain: d, enabled: 1 }, { op: 'readDirty', domain: d, iova: 0n, size: K4, clear: 'yes' }] : []),
  ] as unknown as Call[];
  const v2 = v2InvalidVariants(scene, d);
  return { outOfRange: [...(scene.representableOnly ? representable : [...representable, ...typed]), ...v2.outOfRange], refused: [...refused, ...v2.refused] };
}

/** v2: bad arguments of replacePasid, nested domains and dirty tracking, when the capability is declared. */
function v2InvalidVariants(scene: Scene, d: number): { outOfRange: Call[]; refused: Call[] } {
  const caps = scene.caps;
  const tracked = scene.domains.find(isTracked)?.id ?? d;
  const outOfRange: Call[] = [
    ...(caps.pasidReplace
      ? [
          { op: 'replacePasid', device: 0, pasid: 0, domain: d },
          { op: 'replacePasid', device: 0, pasid: 2 ** caps.pasidBits, domain: d },
          { op: 'replacePasid', device: 2 ** caps.deviceIdBits, pasid: 1, domain: d },
        ] satisfies Call[]
      : []),
    ...(caps.nesting
      ? [
          { op: 'createDomain', id: 9, options: { type: 'nested' } }, // no parent
          { op: 'createDomain', id: 9, options: { parent: d } }, // a parent on a paging domain
          { op: 'createDomain', id: 9, options: { type: 'identity', parent: d } },
          { op: 'createDomain', id: 9, options: { type: 'nested', parent: 2 ** 32 } },
        ] satisfies Call[]
      : []),
    ...(caps.dirtyTracking
      ? [
          { op: 'setDirtyTracking', domain: 2 ** 32, enabled: true },
          { op: 'readDirty', domain: 2 ** 32, iova: 0n, size: K4, clear: false },
          { op: 'readDirty', domain: tracked, iova: U64_LIMIT, size: K4, clear: true },
        ] satisfies Call[]
      : []),
  ];
  const refused: Call[] = caps.dirtyTracking
    ? [
        { op: 'readDirty', domain: tracked, iova: 0n, size: 0n, clear: false },
        { op: 'readDirty', domain: tracked, iova: 0x800n, size: K4, clear: true },
        { op: 'readDirty', domain: tracked, iova: 0n, size: 0x1800n, clear: false },
      ]
    : [];
  return { outOfRange, refused };
}
