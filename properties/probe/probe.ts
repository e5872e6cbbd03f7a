// The invariant probe run after every step: translations that matter for what the step touched
// (each attached device/PASID at the mapped, just-unmapped and neighbouring IOVAs, both
// accesses), judged by the model like any other call. This is what catches a stale IOTLB entry
// after an unmap, a lost remainder after a split, or traffic that survives a detach.
import type { Extent } from '../../model/address-space.ts';
import type { AttachmentView, DomainView } from '../../model/reference.ts';
import { LEVEL_STRIDES } from '../geometry.ts';
import type { CallOf } from '../../model/ops.ts';
import { SIZE_4K, type Access, type Call, type DomainId, type Pasid } from '../../model/types.ts';

/** The model's state at one moment, read once per step. */
export interface StateView {
  readonly domains: readonly DomainView[];
  readonly attachments: readonly AttachmentView[];
}

/** What the step is about to change, seen before it runs. */
export interface Focus {
  readonly extents: readonly Extent[];
}

const MAX_PROBES = 16;
const FEW = 3;

const domainOfTarget = (view: StateView, device: number, pasid: Pasid): DomainId | undefined =>
  view.attachments.find((a) => a.device === device && a.pasid === pasid)?.domain;

const extentsOf = (view: StateView, id: DomainId | undefined): readonly Extent[] =>
  view.domains.find((d) => d.id === id)?.mappings ?? [];

export function focusOf(view: StateView, call: Call): Focus {
  switch (call.op) {
    case 'attachDevice':
    case 'detachDevice':
      return { extents: extentsOf(view, domainOfTarget(view, call.device, null)) };
    case 'attachPasid':
    case 'detachPasid':
    case 'replacePasid':
      return { extents: extentsOf(view, domainOfTarget(view, call.device, call.pasid)) };
    case 'unmap':
      return { extents: extentsOf(view, call.domain).filter((e) => e.iova < call.iova + call.size && call.iova < e.iova + e.size) };
    case 'flush':
      return { extents: view.domains.find((d) => d.id === call.domain)?.stale ?? [] };
    default:
      return { extents: [] };
  }
}

/** The probe translations to run after `call`; `step` rotates a global sample through the state. */
export function probesAfter(view: StateView, call: Call, focus: Focus, step: number, past: readonly { iova: bigint }[]): Call[] {
  const probes: Call[] = [];
  const add = (device: number, pasid: Pasid, iova: bigint, access: Access): void => {
    if (iova >= 0n && !probes.some((p) => p.op === 'translate' && p.device === device && p.pasid === pasid && p.iova === iova && p.access === access))
      probes.push({ op: 'translate', device, pasid, iova, access });
  };
  const attachments = view.attachments;
  const onDomain = (id: DomainId) => attachments.filter((a) => a.domain === id).slice(0, FEW);
  const both = (device: number, pasid: Pasid, iova: bigint): void => {
    add(device, pasid, iova, 'read');
    add(device, pasid, iova, 'write');
  };

  switch (call.op) {
    case 'map':
      for (const a of onDomain(call.domain)) {
        both(a.device, a.pasid, call.iova);
        add(a.device, a.pasid, call.iova + call.size - SIZE_4K, 'write');
        add(a.device, a.pasid, call.iova + call.size, 'read'); // the neighbour after
        // The IOVA that shares every table index but one level's: an index-mask bug aliases it.
        const stride = LEVEL_STRIDES[step % LEVEL_STRIDES.length];
        add(a.device, a.pasid, call.iova + stride, 'read');
        add(a.device, a.pasid, call.iova - stride, 'read');
      }
      break;
    case 'unmap':
      for (const a of onDomain(call.domain)) {
        both(a.device, a.pasid, call.iova);
        add(a.device, a.pasid, call.iova + call.size - SIZE_4K, 'read');
        both(a.device, a.pasid, call.iova - SIZE_4K); // what a split must keep
        both(a.device, a.pasid, call.iova + call.size);
        for (const e of focus.extents.slice(0, FEW)) {
          add(a.device, a.pasid, e.iova, 'read');
          add(a.device, a.pasid, e.iova + e.size - SIZE_4K, 'read');
        }
        // The live neighbours, whose table pages an unmap must not free.
        const live = extentsOf(view, call.domain);
        const after = live.findIndex((e) => e.iova >= call.iova + call.size);
        for (const e of [live[(after < 0 ? live.length : after) - 1], live[after]]) if (e) add(a.device, a.pasid, e.iova, 'read');
      }
      break;
    case 'flush':
      for (const a of onDomain(call.domain)) for (const e of focus.extents.slice(0, FEW)) both(a.device, a.pasid, e.iova);
      break;
    case 'attachDevice':
    case 'detachDevice':
    case 'attachPasid':
    case 'detachPasid':
    case 'replacePasid': {
      // The target must see only its new domain; its other traffic class must not change.
      const pasid = call.op === 'attachDevice' || call.op === 'detachDevice' ? null : call.pasid;
      const now = extentsOf(view, domainOfTarget(view, call.device, pasid));
      // Also where earlier mappings were: a re-created domain id must not bring them back.
      for (const e of [...focus.extents.slice(0, FEW), ...now.slice(0, FEW), ...past.slice(-3)]) {
        both(call.device, pasid, e.iova);
        add(call.device, pasid === null ? 1 : null, e.iova, 'read');
        add(call.device % 2 === 0 ? call.device + 1 : call.device - 1, pasid, e.iova, 'read'); // another device, same PASID
      }
      break;
    }
    default:
      break;
  }
  // A parent changed (v2): translate through every nested domain over it, at the IOVAs whose IPAs
  // the change touched (a combined stage-1+stage-2 entry must not outlive the stage-2 one).
  const touched = touchedRange(call, focus);
  if (touched) for (const probe of throughNested(view, touched)) add(probe.device, probe.pasid, probe.iova, probe.access);
  // A rotating sample: one attached target at one live or stale page of any domain.
  const pages = view.domains.flatMap((d) => [...d.mappings, ...d.stale]);
  if (attachments.length > 0 && pages.length > 0) {
    const a = attachments[step % attachments.length];
    const e = pages[(step >> 1) % pages.length];
    add(a.device, a.pasid, e.iova, step % 2 === 0 ? 'read' : 'write');
  }
  return probes.slice(0, MAX_PROBES);
}

/** The addresses a map, unmap or flush of a domain changed, as ranges of that domain. */
function touchedRange(call: Call, focus: Focus): { domain: DomainId; ranges: readonly { iova: bigint; size: bigint }[] } | undefined {
  if (call.op === 'map' || call.op === 'unmap') return { domain: call.domain, ranges: [call] };
  if (call.op === 'flush') return { domain: call.domain, ranges: focus.extents };
  return undefined;
}

/** For each nested domain over `parent` and each of its users, translations at the IOVAs whose IPAs fall in the ranges. */
function throughNested(view: StateView, touched: NonNullable<ReturnType<typeof touchedRange>>): CallOf<'translate'>[] {
  const parent = touched.domain;
  const probes: CallOf<'translate'>[] = [];
  for (const child of view.domains.filter((d) => d.config.type === 'nested' && d.config.parent === parent)) {
    const users = view.attachments.filter((a) => a.domain === child.id).slice(0, FEW);
    for (const m of child.mappings) {
      const hit = touched.ranges.find((r) => m.pa < r.iova + r.size && r.iova < m.pa + m.size);
      if (hit === undefined) continue;
      const iova = m.iova + ((hit.iova > m.pa ? hit.iova : m.pa) - m.pa); // the first IOVA whose IPA the change touched
      for (const a of users) for (const access of ['read', 'write'] as const) probes.push({ op: 'translate', device: a.device, pasid: a.pasid, iova, access });
    }
  }
  return probes.slice(0, MAX_PROBES);
}
