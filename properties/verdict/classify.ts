// Classification of a wrong answer: which property it breaks, and whose page it is. It reads the
// trace: the calls that succeeded before the failing one say which domain instance each id named
// over time, every mapping ever made, and which instances each (device, PASID) was attached to.
import type { Call, CallOf } from '../../model/ops.ts';
import type { DirtyMisses } from '../../model/reference.ts';
import type { DomainId, Pasid, Translation } from '../../model/types.ts';
import { isCallEntry, type TraceEntry } from '../run/trace.ts';

interface MapRecord {
  readonly instance: number;
  readonly domain: DomainId;
  readonly iova: bigint;
  readonly size: bigint;
  readonly pa: bigint;
  readonly prot: number;
  /** When it was made, in successful calls: an unmap after it may have removed its pages. */
  readonly seq: number;
}

/** How a translation can have come about: one mapping, or (nested) a stage-1 and a stage-2 one. */
interface Path {
  readonly instance: number;
  readonly stages: readonly [MapRecord] | readonly [MapRecord, MapRecord];
}

const targetKey = (device: number, pasid: Pasid): string => `${device}/${pasid ?? 'rid'}`;
const hex = (x: bigint): string => `0x${x.toString(16)}`;
const covers = (m: { iova: bigint; size: bigint }, at: bigint): boolean => m.iova <= at && at < m.iova + m.size;

/** What the trace says of the run up to a step: the history of ids, mappings and attachments. */
class History {
  private nextInstance = 1;
  private seq = 0;
  /** The live instance behind each domain id: a destroyed and re-created id is a new instance. */
  readonly instances = new Map<DomainId, number>();
  /** Nested instances (v2) and the parent instance under each. */
  readonly parents = new Map<number, number>();
  readonly maps: MapRecord[] = [];
  readonly unmaps: { instance: number; iova: bigint; size: bigint; seq: number }[] = [];
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
    this.seq++;
    switch (call.op) {
      case 'createDomain': {
        const instance = this.nextInstance++;
        this.instances.set(call.id, instance);
        const parent = call.options?.type === 'nested' ? this.instances.get(call.options.parent as DomainId) : undefined;
        if (parent !== undefined) this.parents.set(instance, parent);
        break;
      }
      case 'destroyDomain':
        this.instances.delete(call.id);
        break;
      case 'attachDevice':
      case 'attachPasid':
      case 'replacePasid': {
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
        this.maps.push({ instance: this.instances.get(call.domain)!, ...call, seq: this.seq });
        break;
      case 'unmap':
        this.unmaps.push({ instance: this.instances.get(call.domain)!, iova: call.iova, size: call.size, seq: this.seq });
        break;
      default:
        break; // no effect on which instance or mapping an answer can come from
    }
  }

  /** Whether the mapping still maps that address (no later unmap of its instance covered it). */
  private live(m: MapRecord, at: bigint): boolean {
    return !this.unmaps.some((u) => u.instance === m.instance && u.seq > m.seq && covers(u, at));
  }

  /** Every way a translation at `iova` can have given `pa`: through one mapping, or through both stages of a nested domain. */
  private paths(iova: bigint, pa: bigint): Path[] {
    const direct = this.maps.filter((m) => !this.parents.has(m.instance) && covers(m, iova) && m.pa + (iova - m.iova) === pa);
    const nested = this.maps
      .filter((s1) => this.parents.has(s1.instance) && covers(s1, iova))
      .flatMap((s1) => {
        const ipa = s1.pa + (iova - s1.iova);
        return this.maps
          .filter((s2) => s2.instance === this.parents.get(s1.instance) && covers(s2, ipa) && s2.pa + (ipa - s2.iova) === pa)
          .map((s2): Path => ({ instance: s1.instance, stages: [s1, s2] }));
      });
    return [...direct.map((m): Path => ({ instance: m.instance, stages: [m] })), ...nested];
  }

  /** Names what a wrong translation reveals: which property it breaks, and whose page it is. */
  explain(call: CallOf<'translate'>, answer: unknown, allowed: readonly Translation[]): { property: string; why: string } {
    const key = targetKey(call.device, call.pasid);
    const who = `(device ${call.device}, ${call.pasid === null ? 'RID' : `PASID ${call.pasid}`})`;
    const own = this.attached.get(key);
    const a = answer as Partial<{ ok: boolean; pa: unknown; fault: unknown }>;
    if (a?.ok === true && typeof a.pa === 'bigint') {
      const pa = a.pa;
      const paths = this.paths(call.iova, pa);
      const describe = (m: MapRecord): string => `domain ${m.domain}'s mapping iova ${hex(m.iova)} -> ${this.parents.has(m.instance) ? 'ipa' : 'pa'} ${hex(m.pa)} (size ${hex(m.size)}, prot ${m.prot})`;
      const describePath = (p: Path): string => p.stages.map(describe).join(' over ');
      const ownPath = paths.find((p) => p.instance === own);
      if (ownPath && allowed.some((t) => !t.ok && 'fault' in t && t.fault === 'permission'))
        return { property: 'PERMISSION', why: `${who} got ${describePath(ownPath)} for a ${call.access} it does not allow` };
      if (ownPath?.stages.length === 2) return { property: 'COHERENCY', why: this.staleStage(who, call.iova, ownPath.stages) };
      if (ownPath)
        return { property: 'COHERENCY', why: `${who} got a stale translation: ${describePath(ownPath)} was unmapped, and its domain is strict or was flushed since` };
      // A nested domain's mapping gave the IPA itself as the PA: stage 2 was skipped.
      const ipaAsPa = this.maps.find((m) => m.instance === own && this.parents.has(m.instance) && covers(m, call.iova) && m.pa + (call.iova - m.iova) === pa);
      if (ipaAsPa)
        return { property: 'TRANSLATION', why: `stage 2 skipped, through nested domain ${ipaAsPa.domain}: ${who} got the IPA of ${describe(ipaAsPa)} as its PA` };
      const before = paths.find((p) => this.everAttached.get(key)?.has(p.instance));
      if (before)
        return { property: 'COHERENCY', why: `${who} still translates through a domain it was detached from or that was replaced or destroyed: ${describePath(before)}` };
      if (paths.length > 0) return { property: 'ISOLATION', why: `${who} reached ${describePath(paths[0]!)}, a domain never attached to it` };
      if (own === undefined && this.everAttached.has(key))
        return { property: 'COHERENCY', why: `${who} is detached but still translates` };
      if (own === undefined) return { property: 'ISOLATION', why: `${who} has no domain attached but translates` };
      return { property: 'TRANSLATION', why: `${who} got a PA that no mapping ever gave` };
    }
    const lost = allowed.some((t) => t.ok);
    return { property: 'TRANSLATION', why: lost ? `${who} lost a translation that is still mapped` : `${who} got the wrong fault` };
  }

  /** Which stage of a nested translation was stale: stage 1 (the nested domain's) or stage 2 (the parent's). */
  private staleStage(who: string, iova: bigint, [s1, s2]: readonly [MapRecord, MapRecord]): string {
    const ipa = s1.pa + (iova - s1.iova);
    const mapping = (m: MapRecord, from: string, to: string) => `${from} ${hex(m.iova)} -> ${to} ${hex(m.pa)} (size ${hex(m.size)}, prot ${m.prot})`;
    if (this.live(s1, iova))
      return `stage 2 of parent ${s2.domain}, through nested domain ${s1.domain}: ${who} got a stale translation: the parent's mapping ${mapping(s2, 'ipa', 'pa')} was unmapped (at ipa ${hex(ipa)}), and the parent is strict or was flushed since`;
    return `stage 1 of nested domain ${s1.domain} (over parent ${s2.domain}): ${who} got a stale translation: its mapping ${mapping(s1, 'iova', 'ipa')} was unmapped, and it is strict or was flushed since`;
  }
}

/**
 * The property a failing call breaks and why: for a translation, what the trace before it
 * explains; for any other call, RESULT.
 */
export function classify(
  trace: readonly TraceEntry[],
  failing: CallOf<'translate'> | { op: string },
  answer: unknown,
  allowed: readonly unknown[],
  dirty?: DirtyMisses,
): { property: string; why: string } {
  if (dirty) return { property: 'DIRTY', why: dirtyWhy(trace, dirty) };
  if (failing.op !== 'translate') return { property: 'RESULT', why: `${failing.op} answered outside the contract` };
  return History.of(trace).explain(failing as CallOf<'translate'>, answer, allowed as readonly Translation[]);
}

/**
 * A readDirty that lost a page names the page and the step that wrote it (the last successful
 * write at that IOVA, or through a nested domain at that IPA); one that over-reported names a
 * page it may not report.
 */
function dirtyWhy(trace: readonly TraceEntry[], { domain, lost, forbidden }: DirtyMisses): string {
  const steps = trace.filter(isCallEntry);
  const page = (x: bigint) => x / 4096n;
  if (lost.length > 0) {
    const p = lost[0]!;
    const isWrite = (e: (typeof steps)[number]): boolean => e.call.op === 'translate' && e.call.access === 'write' && (e.answer as { ok?: unknown }).ok === true && page(e.call.iova) === page(p);
    const at = steps.map(isWrite).lastIndexOf(true);
    const where = at >= 0 ? `written by step ${at + 1} (${formatWrite(steps[at]!.call)})` : 'written through a nested domain over it';
    return `readDirty of domain ${domain} lost the dirty page ${hex(p)}, ${where} while tracking was enabled, not unmapped or cleared since${lost.length > 1 ? ` (and ${lost.length - 1} more)` : ''}`;
  }
  return `readDirty of domain ${domain} reported ${hex(forbidden[0]!)}, a mapped page not written since its last clear nor in a 2M/1G block with one that was${forbidden.length > 1 ? ` (and ${forbidden.length - 1} more)` : ''}`;
}

const formatWrite = (call: Call): string => (call.op === 'translate' ? `a write of device ${call.device}${call.pasid === null ? '' : `, PASID ${call.pasid}`} at ${hex(call.iova)}` : call.op);

