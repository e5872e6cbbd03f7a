// The harness's memory of a run, beyond the model's current state: which domain instance each id
// named over time, every mapping ever made, which instances each (device, PASID) was attached to.
// It explains failures (isolation or coherency) and feeds the generators' "just unmapped" picks.
import type { Call, DomainId, Pasid, Translation } from '../model/types.ts';
import type { Range } from './resolve.ts';

export interface MapRecord {
  readonly instance: number;
  readonly domain: DomainId;
  readonly iova: bigint;
  readonly size: bigint;
  readonly pa: bigint;
  readonly prot: number;
}

const RECENT = 8;
export const targetKey = (device: number, pasid: Pasid): string => `${device}/${pasid ?? 'rid'}`;

export class RunMemory {
  private nextInstance = 1;
  /** The live instance behind each domain id: a destroyed and re-created id is a new instance. */
  readonly instances = new Map<DomainId, number>();
  readonly maps: MapRecord[] = [];
  readonly everAttached = new Map<string, Set<number>>();
  readonly attached = new Map<string, number>();
  readonly recentlyUnmapped: Range[] = [];
  readonly pastMappings: Range[] = [];
  readonly destroyed: DomainId[] = [];

  /** Records the effect of a call that the implementation answered with success. */
  succeeded(call: Call): void {
    switch (call.op) {
      case 'createDomain':
        this.instances.set(call.id, this.nextInstance++);
        break;
      case 'destroyDomain':
        this.instances.delete(call.id);
        this.destroyed.push(call.id);
        break;
      case 'attachDevice':
      case 'attachPasid': {
        const key = targetKey(call.device, call.op === 'attachDevice' ? null : call.pasid);
        const instance = this.instances.get(call.domain)!;
        this.attached.set(key, instance);
        this.everAttached.set(key, new Set([...(this.everAttached.get(key) ?? []), instance]));
        break;
      }
      case 'detachDevice':
        this.attached.delete(targetKey(call.device, null));
        break;
      case 'detachPasid':
        this.attached.delete(targetKey(call.device, call.pasid));
        break;
      case 'map':
        this.maps.push({ instance: this.instances.get(call.domain)!, ...call });
        this.pastMappings.push({ domain: call.domain, iova: call.iova, size: call.size });
        if (this.pastMappings.length > RECENT) this.pastMappings.shift();
        break;
      case 'unmap':
        this.recentlyUnmapped.push({ domain: call.domain, iova: call.iova, size: call.size });
        if (this.recentlyUnmapped.length > RECENT) this.recentlyUnmapped.shift();
        break;
      case 'flush':
      case 'translate':
        break;
    }
  }

  /** Names what a wrong translation reveals: which property it breaks, and whose page it is. */
  explain(call: Extract<Call, { op: 'translate' }>, answer: unknown, allowed: readonly Translation[]): { property: string; why: string } {
    const key = targetKey(call.device, call.pasid);
    const who = `(device ${call.device}, ${call.pasid === null ? 'RID' : `PASID ${call.pasid}`})`;
    const own = this.attached.get(key);
    const a = answer as Partial<{ ok: boolean; pa: unknown; fault: unknown }>;
    if (a?.ok === true && typeof a.pa === 'bigint') {
      const pa = a.pa;
      const sources = this.maps.filter((m) => m.iova <= call.iova && call.iova < m.iova + m.size && m.pa + (call.iova - m.iova) === pa);
      const describe = (m: MapRecord): string =>
        `domain ${m.domain}'s mapping iova 0x${m.iova.toString(16)} -> pa 0x${m.pa.toString(16)} (size 0x${m.size.toString(16)}, prot ${m.prot})`;
      const ownSource = sources.find((m) => m.instance === own);
      if (ownSource && allowed.some((t) => !t.ok && 'fault' in t && t.fault === 'permission'))
        return { property: 'PERMISSION', why: `${who} got ${describe(ownSource)} for a ${call.access} it does not allow` };
      if (ownSource)
        return { property: 'COHERENCY', why: `${who} got a stale translation: ${describe(ownSource)} was unmapped, and its domain is strict or was flushed since` };
      const before = sources.find((m) => this.everAttached.get(key)?.has(m.instance));
      if (before)
        return { property: 'COHERENCY', why: `${who} still translates through a domain it was detached from or that was replaced or destroyed: ${describe(before)}` };
      if (sources.length > 0)
        return { property: 'ISOLATION', why: `${who} reached ${describe(sources[0])}, a domain never attached to it` };
      if (own === undefined && this.everAttached.has(key))
        return { property: 'COHERENCY', why: `${who} is detached but still translates` };
      if (own === undefined) return { property: 'ISOLATION', why: `${who} has no domain attached but translates` };
      return { property: 'TRANSLATION', why: `${who} got a PA that no mapping ever gave` };
    }
    const lost = allowed.some((t) => t.ok);
    return { property: 'TRANSLATION', why: lost ? `${who} lost a translation that is still mapped` : `${who} got the wrong fault` };
  }
}
