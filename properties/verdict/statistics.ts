// Statistics: counters of what was generated and what happened, read from the traces of the runs.
// The shapes that break IOMMUs are observed when a command runs (they depend on the state
// before it) and recorded in its trace entry; everything else is read from the calls and answers.
import { describeAnswer, type DomainView, type AttachmentView } from '../../model/reference.ts';
import type { Call } from '../../model/ops.ts';
import type { DomainId } from '../../model/types.ts';
import { RULE_IDS, ruleApplies } from '../../model/rules.ts';
import type { ResolvedCapabilities } from '../../model/validate.ts';
import { isCallEntry, type CallEntry, type TraceEntry } from '../run/trace.ts';

/** Counters summed over runs. */
export type Statistics = Record<string, number>;

export const count = (stats: Statistics, key: string, by = 1): void => {
  stats[key] = (stats[key] ?? 0) + by;
};

/** Adds a run's trace to the counters. */
export function countTrace(stats: Statistics, trace: readonly TraceEntry[]): void {
  for (const entry of trace) {
    if ('note' in entry) count(stats, `shape:${entry.note}`);
    else if (isCallEntry(entry)) countCall(stats, entry);
  }
}

function countCall(stats: Statistics, e: CallEntry): void {
  if (e.probe) count(stats, 'probes');
  else {
    count(stats, 'steps');
    for (const shape of e.shapes) count(stats, shape.startsWith('bit:') ? shape : `shape:${shape}`);
    count(stats, `command:${e.call.op}`);
  }
  if (e.judgement === 'stale') count(stats, 'stale-allowed');
  if (e.dirty) {
    count(stats, 'dirty:required', e.dirty.required);
    count(stats, 'dirty:reported', e.dirty.reported);
    count(stats, 'dirty:over-reported', e.dirty.reported - e.dirty.required);
  }
  if (e.judgement === 'conforming' || e.judgement === 'stale') countAnswer(stats, e.call, e.answer);
  for (const rule of e.rules ?? []) count(stats, `rule:${rule}`);
}

/**
 * Gives every rule the capabilities let arise a counter (0 when the campaign never exercised it),
 * so that the coverage table names the rules never reached.
 */
export function summarizeRules(stats: Statistics, caps: ResolvedCapabilities): void {
  for (const id of RULE_IDS) if (ruleApplies(id, caps)) stats[`rule:${id}`] ??= 0;
}

/** A campaign's counters with the bits it reached (`Report.bitsReached`), as reports carry them. */
export interface Counted {
  readonly statistics: Statistics;
  readonly bitsReached?: Record<string, number[]>;
}

/**
 * The statistics of several campaigns (workers, shards) as one: counters add up; `bits:<class>`
 * counts the union of the bits they reached (their best, when a report does not say which),
 * `bits:<class>:of` and the times (`time:*`: the campaigns ran side by side) take the largest.
 */
export function mergeStatistics(list: readonly Counted[]): Required<Counted> {
  const statistics: Statistics = {};
  const largest = (k: string) => k.startsWith('bits:') || k.startsWith('time:');
  for (const { statistics: stats } of list)
    for (const [k, v] of Object.entries(stats)) statistics[k] = largest(k) ? Math.max(statistics[k] ?? 0, v) : (statistics[k] ?? 0) + v;
  const union = new Map<string, Set<number>>();
  for (const { bitsReached = {} } of list)
    for (const [bitClass, bits] of Object.entries(bitsReached)) union.set(bitClass, new Set([...(union.get(bitClass) ?? []), ...bits]));
  const bitsReached = Object.fromEntries([...union].map(([bitClass, bits]) => [bitClass, [...bits].sort((x, y) => x - y)]));
  if (list.every((r) => r.bitsReached !== undefined))
    for (const [bitClass, bits] of Object.entries(bitsReached)) statistics[`bits:${bitClass}`] = bits.length;
  return { statistics, bitsReached };
}

function countAnswer(stats: Statistics, call: Call, answer: unknown): void {
  const text = describeAnswer(answer, call.op);
  if (text === undefined) return;
  if (text.startsWith('error ')) count(stats, `error:${text.slice(6)}`);
  else if (text.startsWith('fault ')) count(stats, `fault:${text.slice(6)}`);
  else count(stats, call.op === 'translate' ? 'translate:ok' : `ok:${call.op}`);
}

const overlaps = (a: { iova: bigint; size: bigint }, iova: bigint, size: bigint): boolean => a.iova < iova + size && iova < a.iova + a.size;

/**
 * The shapes that break real IOMMUs which a command has in this state, so that a user sees the
 * generator reaches them. `valid` is false for out-of-range arguments (nothing else is observed).
 */
export function shapesOf(
  call: Call,
  state: { readonly domains: readonly DomainView[]; readonly attachments: readonly AttachmentView[] } | undefined,
  destroyed: readonly DomainId[],
): string[] {
  if (state === undefined) return ['invalid-arguments'];
  const shapes: string[] = [];
  const { domains: views, attachments } = state;
  if (call.op === 'map') {
    const bigAligned = call.size >= 0x20_0000n && call.iova % 0x20_0000n === call.pa % 0x20_0000n;
    if (bigAligned) shapes.push('map-superpage-candidate');
    if (views.some((d) => d.id !== call.domain && d.mappings.some((e) => e.pa === call.pa))) shapes.push('map-shared-pa');
    if (views.find((d) => d.id === call.domain)?.stale.some((e) => overlaps(e, call.iova, call.size))) shapes.push('remap-before-flush');
  }
  if (call.op === 'unmap') {
    const cuts = views
      .find((d) => d.id === call.domain)
      ?.mappings.some((e) => overlaps(e, call.iova, call.size) && (e.iova < call.iova || e.iova + e.size > call.iova + call.size));
    if (cuts) shapes.push('unmap-cuts-mapping');
  }
  if (call.op === 'createDomain' && destroyed.includes(call.id)) shapes.push('domain-id-reuse');
  if (call.op === 'attachPasid' && attachments.some((a) => a.device === call.device && a.pasid === null)) shapes.push('pasid-beside-rid');
  shapes.push(...v2Shapes(call, state));
  return shapes;
}

/** v2's shapes: nested domains and their parents, PASID replace. None arise for a v1 implementation. */
function v2Shapes(call: Call, { domains: views, attachments }: NonNullable<Parameters<typeof shapesOf>[1]>): string[] {
  const shapes: string[] = [];
  const domain = (id: DomainId | undefined) => views.find((d) => d.id === id);
  const children = (id: DomainId) => views.filter((d) => d.config.type === 'nested' && d.config.parent === id);
  const used = (id: DomainId) => attachments.some((a) => a.domain === id);
  if (call.op === 'createDomain' && call.options?.type === 'nested') {
    const parent = domain(call.options.parent);
    if (parent?.config.type === 'paging' && parent.config.invalidation === 'deferred') shapes.push('nested-over-deferred');
    if (parent && children(parent.id).length > 0) shapes.push('nested-beside-nested');
  }
  if ((call.op === 'map' || call.op === 'unmap' || call.op === 'flush') && children(call.domain).some((c) => used(c.id) && c.mappings.length > 0))
    shapes.push('parent-change-under-nested');
  if ((call.op === 'attachDevice' || call.op === 'attachPasid' || call.op === 'replacePasid') && children(call.domain).length > 0) shapes.push('parent-also-attached');
  if ((call.op === 'attachPasid' || call.op === 'replacePasid') && domain(call.domain)?.config.type === 'nested') shapes.push('nested-on-pasid');
  if (call.op === 'replacePasid') {
    const old = domain(attachments.find((a) => a.device === call.device && a.pasid === call.pasid)?.domain);
    if (old && old.mappings.length > 0) shapes.push('replace-under-traffic');
  }
  if (call.op === 'destroyDomain' && children(call.id).length > 0) shapes.push('destroy-parent-with-nested');
  return shapes;
}

/**
 * Replaces the per-bit counters (`bit:<class>-b<bit>`) by one per class: `bits:<class>` is how
 * many of its bits a pair reached, `bits:<class>:of` how many it has. Returns the bits reached
 * by class (sorted), so that reports can be merged (the union of their bits).
 */
export function summarizeBits(stats: Statistics, sizes: Record<string, number>): Record<string, number[]> {
  const reached = new Map<string, Set<string>>();
  for (const key of Object.keys(stats).filter((k) => k.startsWith('bit:'))) {
    const [bitClass, bit] = key.slice(4).split(/-b(?=\d+$)/);
    reached.set(bitClass!, new Set([...(reached.get(bitClass!) ?? []), bit!]));
    delete stats[key];
  }
  for (const [bitClass, size] of Object.entries(sizes)) {
    stats[`bits:${bitClass}`] = reached.get(bitClass)?.size ?? 0;
    stats[`bits:${bitClass}:of`] = size;
  }
  return Object.fromEntries([...reached].map(([bitClass, bits]) => [bitClass, [...bits].map(Number).sort((a, b) => a - b)]));
}

