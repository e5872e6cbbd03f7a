// Resolving DMA traffic (translations that matter for the target) and out-of-range calls.
import { PA_LIMIT, SIZE_1G, U64_LIMIT, type Call } from '../../model/types.ts';
import type { Intent } from './intents.ts';
import { BOUNDARIES, K4, LEVEL_STRIDES, choose, domainId, target, type Scene } from './scene.ts';

/** A DMA of `pages` pages: one translate per page, at an IOVA that matters for the target. */
export function dmaCalls(scene: Scene, intent: Extract<Intent, { kind: 'dma' }>): Call[] {
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
export function invalidCall(scene: Scene, intent: Extract<Intent, { kind: 'invalid' }>): Call {
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
  // v2: bad arguments of replacePasid and of nested domains, when the capability is declared.
  const v2: Call[] = [
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
  ];
  return choose(scene.representableOnly ? [...representable, ...v2] : [...representable, ...typed, ...v2], intent.variant);
}
