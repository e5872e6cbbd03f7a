// Classification of a wrong answer: which property it breaks, and whose page it is. It reads the
// trace: the calls that succeeded before the failing one say which domain instance each id named
// over time, every mapping ever made, and which instances each (device, PASID) was attached to.
import type { Call, CallOf } from '../../model/ops.ts';
import type { DomainId, Pasid, Translation } from '../../model/types.ts';
import { isCallEntry, type TraceEntry } from '../run/trace.ts';

interface MapRecord {
  readonly instance: number;
  readonly domain: DomainId;
  readonly iova: bigint;
  readonly size: bigint;
  readonly pa: bigint;
  readonly prot: number;
}

const targetKey = (device: number, pasid: Pasid): string => `${device}/${pasid ?? 'rid'}`;

/** What the trace says of the run up to a step: the history of ids, mappings and attachments. */
class History {
  private nextInstance = 1;
  /** The live instance behind each domain id: a destroyed and re-created id is a new instance. */
  readonly instances = new Map<DomainId, number>();
  readonly maps: MapRecord[] = [];
  readonly everAttached = new Map<string, Set<number>>();
  readonly attached = new Map<string, number>();

  /** The history of the trace's successful calls (each judged conforming). */
  static of(trace: readonly TraceEntry[]): History {
    const history = new History();
    for (const e of trace)
      if (isCallEntry(e) && (e.judgement === 'conforming' || e.judgement === 'stale') && (e.answer as { ok?: unknown }).ok === true)
        history.succeeded(e.call);
    return history;
  }

  /** Records the effect of a call that the implementation answered with success. */
  private succeeded(call: Call): void {
    switch (call.op) {
      case 'createDomain':
        this.instances.set(call.id, this.nextInstance++);
        break;
      case 'destroyDomain':
        this.instances.delete(call.id);
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
        break;
      default:
        break; // no effect on which instance or mapping an answer can come from
    }
  }

  /** Names what a wrong translation reveals: which property it breaks, and whose page it is. */
  explain(call: CallOf<'translate'>, answer: unknown, allowed: readonly Translation[]): { property: string; why: string } {
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

/**
 * The property a failing call breaks and why: for a translation, what the trace before it
 * explains; for any other call, RESULT.
 */
export function classify(trace: readonly TraceEntry[], failing: CallOf<'translate'> | { op: string }, answer: unknown, allowed: readonly unknown[]): { property: string; why: string } {
  if (failing.op !== 'translate') return { property: 'RESULT', why: `${failing.op} answered outside the contract` };
  return History.of(trace).explain(failing as CallOf<'translate'>, answer, allowed as readonly Translation[]);
}
