// Resolving the v2 intents: nested domains (stage 1 over stage 2) and PASID replace. Generated
// only for implementations that declare `nesting` or `pasidReplace`.
import { SIZE_2M, type Call, type DomainId } from '../../model/types.ts';
import type { Intent } from './intents.ts';
import { freeBase, sourceCalls } from './resolve-ranges.ts';
import { DOMAIN_IDS, K4, choose, devices, domainId, isParentKind, nestedOver, pasids, target, type PagingView, type Scene } from './scene.ts';

/** The nested domain's own options, sometimes: its geometry is its own, not the parent's. */
const NESTED_SHAPES: readonly { levels?: 3; aperture?: bigint }[] = [{}, {}, { levels: 3 }, { aperture: 1n << 32n }, { levels: 3, aperture: 1n << 30n }];

/** Ids for nested domains beyond the common pool, so that a scene can hold a few of them. */
const NESTED_IDS = [...DOMAIN_IDS, 5, 6, 7];

/**
 * A guest's stage 1 over the VMM's stage 2, then a change of the parent while the combined
 * translation is cached: a nested domain (new, or one over the parent already) and a user of it
 * (mostly a PASID: a guest process), a parent mapping IPA -> PA and a nested mapping IOVA -> IPA,
 * a read and a write through it; then one of: the parent unmaps the IPA (and flushes); the
 * parent remaps it elsewhere; the nested domain unmaps its IOVA; the parent remaps it read-only
 * and the device writes; a second nested domain over the same parent shares the IPA.
 */
export function nestedCalls(scene: Scene, intent: Extract<Intent, { kind: 'nested' }>): Call[] {
  const parent = choose(scene.domains.filter(isParentKind) as PagingView[], intent.pick);
  if (parent === undefined) return [];
  const v = intent.variant;
  const existing = nestedOver(scene.domains, parent.id) as PagingView[];
  const used = new Set(scene.domains.map((d) => d.id));
  const free = NESTED_IDS.filter((id) => !used.has(id));
  const reuse = existing.length > 0 && v % 3 !== 0 ? choose(existing, v >> 2) : undefined;
  if (reuse === undefined && free.length < 2) return [];
  const calls: Call[] = [];
  const create = (id: DomainId, deferred: boolean, shape = 0): void => {
    const own = NESTED_SHAPES[shape % NESTED_SHAPES.length]!;
    calls.push({ op: 'createDomain', id, options: { type: 'nested', parent: parent.id, ...(deferred ? { invalidation: 'deferred' } : {}), ...own } });
    // The nested domain's own geometry: its aperture's end is not mappable (ERANGE).
    if (own.aperture !== undefined) calls.push({ op: 'map', domain: id, iova: own.aperture, pa: 0n, size: K4, prot: 3 });
  };
  const nested = reuse?.id ?? free[0]!;
  if (reuse === undefined) create(nested, v % 2 === 1, v >> 14);
  const user = userOf(scene, nested, v >> 3, calls);
  const ipa = freeBase(parent);
  const iova = reuse ? freeBase(reuse) : SIZE_2M;
  const pa = (1n << 37n) + BigInt(v % 64) * SIZE_2M;
  const size = (v >> 9) % 4 === 0 ? SIZE_2M : K4; // 2M at both stages: a combined large entry
  calls.push({ op: 'map', domain: parent.id, iova: ipa, pa, size, prot: 3 });
  calls.push({ op: 'map', domain: nested, iova, pa: ipa, size, prot: 3 });
  calls.push(user.read(iova), user.write(iova + size - K4)); // cached, combined
  const parentFlushed = (...probes: Call[]): Call[] => [...probes, { op: 'flush', domain: parent.id }, ...probes];
  switch ((v >> 11) % 6) {
    case 0: // the parent unmaps the IPA: "Add missing iotlb flush for parent domain"
      calls.push({ op: 'unmap', domain: parent.id, iova: ipa, size }, ...parentFlushed(user.read(iova)));
      break;
    case 1: // the parent remaps the IPA to another PA
      calls.push({ op: 'unmap', domain: parent.id, iova: ipa, size }, { op: 'map', domain: parent.id, iova: ipa, pa: pa + SIZE_2M * 64n, size, prot: 3 });
      calls.push(...parentFlushed(user.read(iova)));
      break;
    case 2: // the nested domain unmaps its IOVA (stage 1)
      calls.push({ op: 'unmap', domain: nested, iova, size }, user.read(iova), { op: 'flush', domain: nested }, user.read(iova));
      break;
    case 3: // read-only at stage 2: a write must fault whatever stage 1 allows
      calls.push({ op: 'unmap', domain: parent.id, iova: ipa, size }, { op: 'map', domain: parent.id, iova: ipa, pa, size, prot: 1 });
      calls.push(...parentFlushed(user.write(iova)));
      break;
    case 5: {
      // the whole stack torn down and built again with the same ids: caches tagged by the
      // parent's id (a stage-2 walk cache, a VMID) must not outlive it
      const detach = scene.attachments.filter((a) => a.domain === parent.id || a.domain === nested);
      calls.push(...detach.map((a) => sourceCalls(a.device, a.pasid).detach()), user.detach());
      for (const other of existing.filter((d) => d.id !== nested)) calls.push({ op: 'destroyDomain', id: other.id });
      calls.push({ op: 'destroyDomain', id: nested }, { op: 'destroyDomain', id: parent.id }, { op: 'createDomain', id: parent.id });
      calls.push({ op: 'map', domain: parent.id, iova: ipa, pa: pa + SIZE_2M * 32n, size, prot: 3 });
      calls.push({ op: 'createDomain', id: nested, options: { type: 'nested', parent: parent.id } });
      calls.push({ op: 'map', domain: nested, iova, pa: ipa, size, prot: 3 }, user.attach(nested), user.read(iova));
      break;
    }
    default: {
      // a second nested domain over the same parent, sharing the IPA
      const second = free.find((id) => id !== nested);
      if (second === undefined) break;
      create(second, v % 4 >= 2);
      const other = userOf(scene, second, (v >> 3) + 1, calls);
      calls.push({ op: 'map', domain: second, iova: SIZE_2M * 2n, pa: ipa, size, prot: 3 }, other.read(SIZE_2M * 2n));
      calls.push({ op: 'unmap', domain: parent.id, iova: ipa, size }, ...parentFlushed(user.read(iova), other.read(SIZE_2M * 2n)));
    }
  }
  return calls;
}

/** A user of the domain: one attached to it already, else a new PASID (mostly) or RID attached now. */
function userOf(scene: Scene, domain: DomainId, seed: number, calls: Call[]): ReturnType<typeof sourceCalls> {
  const attached = scene.attachments.find((a) => a.domain === domain);
  if (attached) return sourceCalls(attached.device, attached.pasid);
  const device = choose(devices(scene.caps), seed);
  const busy = (pasid: number) => scene.attachments.some((a) => a.device === device && a.pasid === pasid);
  const pasid = scene.caps.pasidBits > 0 && seed % 3 !== 0 ? pasids(scene.caps).find((p) => !busy(p) && p < 2 ** scene.caps.pasidBits) : undefined;
  const user = sourceCalls(device, pasid ?? null);
  calls.push(user.attach(domain));
  return user;
}

/** A PASID's domain replaced: mostly an attached PASID, by another domain (or the same, or an unknown one). */
export function replaceCall(scene: Scene, intent: Extract<Intent, { kind: 'replacePasid' }>): Call {
  const t = target(scene, intent.target, 'pasid', 9);
  // A quarter of them fail (an unknown domain): a failed replace must keep the old domain.
  const unknown = NESTED_IDS.find((id) => !scene.domains.some((d) => d.id === id)) ?? 9;
  const domain = intent.pick % 4 === 3 ? unknown : domainId(scene, intent.pick >> 2, false);
  return { op: 'replacePasid', device: t.device, pasid: t.pasid ?? 1, domain };
}
