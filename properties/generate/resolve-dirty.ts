// Resolving the dirty-tracking intents (v2): tracking switched on and off, reads of the dirty
// record with and without clear over ranges that cut 2M and 1G blocks, and a focused scenario of
// writes around reads, clears, splits, unmaps and remaps. Generated only with `dirtyTracking`.
import { SIZE_1G, SIZE_2M, type Call, type DomainId } from '../../model/types.ts';
import type { Intent } from './intents.ts';
import { freeBase, sourceCalls } from './resolve-ranges.ts';
import { DOMAIN_IDS, K4, choose, devices, domainId, isTracked, type PagingView, type Scene } from './scene.ts';

/** A domain that records dirty pages, mostly; sometimes one that does not (EINVAL) or an unknown id. */
function trackedId(scene: Scene, seed: number): DomainId {
  const tracked = scene.domains.filter(isTracked);
  return tracked.length > 0 && seed % 8 !== 0 ? choose(tracked, seed >> 3).id : domainId(scene, seed >> 3, true);
}

export function setDirtyTrackingCall(scene: Scene, intent: Extract<Intent, { kind: 'setDirtyTracking' }>): Call {
  // Mostly on: a record that is never enabled requires nothing.
  return { op: 'setDirtyTracking', domain: trackedId(scene, intent.pick), enabled: intent.enabled || intent.pick % 3 !== 0 };
}

/** Ranges that matter: a mapping, a part of one cutting a 2M or 1G block, all of the low space, one page. */
export function readDirtyCall(scene: Scene, intent: Extract<Intent, { kind: 'readDirty' }>): Call {
  const id = trackedId(scene, intent.pick);
  const d = scene.domains.find((x) => x.id === id);
  const mine = d?.mappings ?? [];
  const sub = intent.range >> 3;
  const ranges: (() => { iova: bigint; size: bigint } | undefined)[] = [
    () => (mine.length ? choose(mine, sub) : undefined),
    () => (mine.length ? { iova: choose(mine, sub).iova + K4, size: K4 * BigInt(1 + (sub % 4)) } : undefined), // cuts a block
    () => (mine.length ? { iova: choose(mine, sub).iova, size: SIZE_2M / 2n } : undefined), // half of a 2M block
    () => ({ iova: 0n, size: SIZE_1G }),
    () => ({ iova: 0n, size: 1n << 40n }), // far more than is mapped: the answer lists only pages
    () => (mine.length ? { iova: choose(mine, sub).iova + choose(mine, sub).size - K4, size: K4 } : undefined),
  ];
  const range = choose(ranges, intent.range)() ?? { iova: 0n, size: SIZE_2M };
  return { op: 'readDirty', domain: id, iova: range.iova, size: range.size, clear: intent.clear || intent.range % 3 === 0 };
}

/**
 * Writes around the dirty record: a tracked domain (new, or one of the scene), tracking on, a
 * user, a 2M region (a large leaf) and a 4K page mapped, writes to both (the same page twice: an
 * IOTLB hit), then one of: a read without and with clear over a range that cuts the 2M block and
 * a write again at a cleared page (a cached "already dirty" entry must not hide it); a split of
 * the 2M region; an unmap of a written page and a remap; tracking off around a write.
 */
export function dirtyCalls(scene: Scene, intent: Extract<Intent, { kind: 'dirty' }>): Call[] {
  const v = intent.variant;
  const tracked = scene.domains.filter(isTracked) as PagingView[];
  const used = new Set(scene.domains.map((d) => d.id));
  const free = [...DOMAIN_IDS, 5, 6, 7].find((id) => !used.has(id));
  const reuse = tracked.length > 0 && (v % 3 !== 0 || free === undefined) ? choose(tracked, intent.pick) : undefined;
  if (reuse === undefined && free === undefined) return [];
  const calls: Call[] = [];
  const id = reuse?.id ?? free!;
  if (reuse === undefined) calls.push({ op: 'createDomain', id, options: { dirtyTracking: true, ...(v % 2 === 1 ? { invalidation: 'deferred' } : {}) } });
  const attached = scene.attachments.find((a) => a.domain === id);
  const user = sourceCalls(attached?.device ?? choose(devices(scene.caps), v >> 2), attached?.pasid ?? null);
  if (!attached) calls.push(user.attach(id));
  const base = reuse ? freeBase(reuse) + SIZE_2M : SIZE_2M;
  const page = base + SIZE_2M; // a lone 4K page after the 2M region
  const pa = (1n << 38n) + BigInt(v % 32) * SIZE_2M * 2n;
  const read = (iova: bigint, size: bigint, clear: boolean): Call => ({ op: 'readDirty', domain: id, iova, size, clear });
  const written = base + K4 * BigInt(1 + ((v >> 4) % 500));
  calls.push({ op: 'setDirtyTracking', domain: id, enabled: true });
  calls.push({ op: 'map', domain: id, iova: base, pa, size: SIZE_2M, prot: 3 }, { op: 'map', domain: id, iova: page, pa: pa + SIZE_2M, size: K4, prot: 3 });
  calls.push(user.write(written), user.write(written), user.write(page));
  switch ((v >> 13) % (scene.caps.nesting ? 5 : 4)) {
    case 0: // read, clear over a range that cuts the block, write again at a cleared page
      calls.push(read(base, SIZE_2M * 2n, false), read(written, K4, true), user.write(written), read(base, SIZE_2M * 2n, true));
      break;
    case 1: // a split of the large leaf: the written page's half must stay dirty
      calls.push({ op: 'unmap', domain: id, iova: base, size: K4 }, read(base, SIZE_2M * 2n, true), user.write(written), read(base, SIZE_2M, false));
      break;
    case 2: // unmap a written page and remap it: no longer required, then written again
      calls.push({ op: 'unmap', domain: id, iova: page, size: K4 }, read(page, K4, false));
      calls.push({ op: 'map', domain: id, iova: page, pa: pa + SIZE_2M * 2n, size: K4, prot: 3 }, user.write(page), read(page, K4, true));
      break;
    case 4: {
      // writes through a nested domain over the tracked one mark its IPA page; a clear of the
      // parent must reach the nested domain's cached combined entries
      const nested = [...DOMAIN_IDS, 5, 6, 7].find((x) => x !== id && !used.has(x));
      if (nested === undefined) break;
      const guest = sourceCalls(choose(devices(scene.caps), (v >> 2) + 1), null);
      calls.push({ op: 'createDomain', id: nested, options: { type: 'nested', parent: id } }, guest.attach(nested));
      calls.push({ op: 'map', domain: nested, iova: 0n, pa: page, size: K4, prot: 3 }, guest.write(0n), read(page, K4, true), guest.write(0n), read(page, K4, true));
      break;
    }
    default: // tracking off around a write, then on again
      calls.push(read(base, SIZE_2M * 2n, true), { op: 'setDirtyTracking', domain: id, enabled: false }, user.write(page));
      calls.push({ op: 'setDirtyTracking', domain: id, enabled: true }, user.write(written), read(base, SIZE_2M * 2n, true));
  }
  // At the end of each: a clear of one page of the 2M leaf, then a read of the whole leaf (that
  // page must be clean: a clear that skips a leaf it only cuts leaves it dirty).
  calls.push(user.write(written), read(written, K4, true), read(base, SIZE_2M, false));
  return calls;
}
