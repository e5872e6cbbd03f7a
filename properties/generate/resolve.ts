// Resolving an intent into concrete calls against the current state, biased to where IOMMUs
// break: few ids so that they collide, IOVAs at live and just-unmapped mappings, their
// neighbours and interiors, page-table boundaries and the top of the aperture, sizes that
// straddle them, aligned large ranges that invite 2M/1G leaves, partial unmaps that split them.
import type { Call } from '../../model/types.ts';
import type { Intent } from './intents.ts';
import { createCall, destroyCall, recycleCalls } from './resolve-lifecycle.ts';
import { churnCalls, mapCall, mapPiecesCalls, stormCalls, unmapCall } from './resolve-ranges.ts';
import { bitsCalls } from './resolve-bits.ts';
import { dirtyCalls, readDirtyCall, setDirtyTrackingCall } from './resolve-dirty.ts';
import { nestedCalls, replaceCall } from './resolve-nested.ts';
import { dmaCalls, invalidCall } from './resolve-traffic.ts';
import { domainId, isPaging, target, type Scene } from './scene.ts';

export { DEFAULT_DOMAIN_KINDS, LEVEL_STRIDES } from './scene.ts';
export type { Range, Scene } from './scene.ts';

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
    case 'storm':
      return stormCalls(scene, intent);
    case 'mapPieces':
      return mapPiecesCalls(scene, intent);
    case 'replacePasid':
      return [replaceCall(scene, intent)];
    case 'nested':
      return nestedCalls(scene, intent);
    case 'setDirtyTracking':
      return [setDirtyTrackingCall(scene, intent)];
    case 'readDirty':
      return [readDirtyCall(scene, intent)];
    case 'dirty':
      return dirtyCalls(scene, intent);
    case 'bits':
      return bitsCalls(scene, intent);
  }
}
