// The rules of the contract, one entry each, with the sentence it comes from. The reference model
// names the rules that decided each answer it judges (its verdicts carry their ids), so that a
// campaign can say which rules it exercised and which it never reached (`--rules`).
import { OPS, type Op } from './ops.ts';
import type { ResolvedCapabilities } from './validate.ts';

type Applies = (caps: ResolvedCapabilities) => boolean;
interface RuleText {
  readonly text: string;
  /** False when the declared capabilities make the rule unreachable (a v1 implementation and v2's rules). */
  readonly applies?: Applies;
}

const pasids: Applies = (c) => c.pasidBits > 0;
const nesting: Applies = (c) => c.nesting;
const replace: Applies = (c) => c.pasidReplace && c.pasidBits > 0;
const dirty: Applies = (c) => c.dirtyTracking;
const coarse: Applies = (c) => c.coarseFaults;
const bounded: Applies = (c) => c.maxDomains !== Number.POSITIVE_INFINITY;
const rule = (text: string, applies?: Applies): RuleText => (applies ? { text, applies } : { text });

/** The contract's rules besides argument ranges (those are one per operation, see RULE_IDS). */
const STATED = {
  // Errors of each method, in the order the model checks them.
  'createDomain: bad options': rule('createDomain: an option out of range, unknown, of an undeclared capability or for another type: EINVAL'),
  'createDomain: id in use': rule('createDomain: EEXIST if the id is in use'),
  'createDomain: unknown parent': rule('nested createDomain: ENOENT if parent is no such domain', nesting),
  'createDomain: parent not paging': rule('nested createDomain: EINVAL if parent is not a paging domain', nesting),
  'createDomain: maxDomains': rule('createDomain may answer ENOSPC only when maxDomains domains exist', bounded),
  'destroyDomain: unknown': rule('destroyDomain: ENOENT if unknown'),
  'destroyDomain: attached': rule('destroyDomain: EBUSY if attached to any device or (device, PASID)'),
  'destroyDomain: nested over it': rule('destroyDomain: EBUSY while a nested domain over it exists', nesting),
  'attachDevice: unknown domain': rule('attachDevice: ENOENT if the domain is unknown'),
  'detachDevice: no RID domain': rule('detachDevice: ENOENT if the device has no RID domain'),
  'attachPasid: unknown domain': rule('attachPasid: ENOENT for an unknown domain', pasids),
  'attachPasid: PASID has a domain': rule('attachPasid: EBUSY if the PASID already has a domain', pasids),
  'attachPasid: same domain': rule('attachPasid of the domain the PASID already has: EBUSY or success', pasids),
  'detachPasid: no domain': rule('detachPasid: ENOENT if the PASID has no domain', pasids),
  'replacePasid: unknown domain': rule('replacePasid: ENOENT if the domain is unknown', replace),
  'replacePasid: no domain': rule('replacePasid: ENOENT if (device, PASID) has no domain', replace),
  'map: unknown domain': rule('map: ENOENT for an unknown domain'),
  'map: not paging': rule('map: EINVAL if the domain is not paging (or nested)'),
  'map: size 0': rule('map: EINVAL if size is 0'),
  'map: unaligned': rule('map: EINVAL if iova, pa or size is not a multiple of 4096'),
  'map: past aperture': rule('map: ERANGE if iova + size passes the aperture'),
  'map: past 2^52': rule('map: ERANGE if pa + size passes 2^52'),
  'map: already mapped': rule('map: EEXIST if any page of the range is mapped'),
  'unmap: unknown domain': rule('unmap: ENOENT for an unknown domain'),
  'unmap: not paging': rule('unmap: EINVAL if the domain is not paging (or nested)'),
  'unmap: size 0': rule('unmap: EINVAL if size is 0'),
  'unmap: unaligned': rule('unmap: EINVAL if iova or size is not a multiple of 4096'),
  'unmap: past aperture': rule('unmap: ERANGE if iova + size passes the aperture'),
  'unmap: whole cuts a mapping': rule("unmap 'whole': EINVAL if the range cuts through a mapping made by one map call"),
  'flush: unknown domain': rule('flush: ENOENT if unknown'),
  'setDirtyTracking: unknown domain': rule('setDirtyTracking: ENOENT if unknown', dirty),
  'setDirtyTracking: not tracking': rule('setDirtyTracking: EINVAL if not created with dirtyTracking: true', dirty),
  'readDirty: unknown domain': rule('readDirty: ENOENT if unknown', dirty),
  'readDirty: not tracking': rule('readDirty: EINVAL if not created with dirtyTracking: true', dirty),
  'readDirty: size 0': rule('readDirty: EINVAL if size is 0', dirty),
  'readDirty: unaligned': rule('readDirty: EINVAL if iova or size is not a multiple of 4096', dirty),
  'readDirty: past aperture': rule('readDirty: ERANGE if iova + size passes the aperture', dirty),
  // Successes: each domain kind and mode.
  'createDomain: paging': rule('a new paging domain is empty'),
  'createDomain: identity': rule('an identity domain'),
  'createDomain: blocked': rule('a blocked domain'),
  'createDomain: nested': rule('a nested domain: stage 1 over a paging parent', nesting),
  'createDomain: deferred': rule("invalidation 'deferred': unmapped pages may translate until flush"),
  'createDomain: whole unmap': rule("unmap 'whole': mappings are removed whole"),
  'createDomain: dirty tracking': rule('a paging domain created with dirtyTracking: true', dirty),
  'destroyDomain: closes its window': rule('destroyDomain of a deferred domain with pages unmapped since its flush closes the window'),
  'attachDevice: replaces': rule("attachDevice replaces the device's current RID domain"),
  'detachDevice: blocks': rule('after detachDevice, RID traffic of the device is blocked'),
  'detachPasid: blocks': rule('after detachPasid, traffic with that PASID is blocked', pasids),
  'replacePasid: replaces': rule("replacePasid replaces the PASID's domain in one step", replace),
  'unmap: nothing mapped': rule('unmap of a range with nothing mapped answers 0 bytes'),
  'unmap: split cuts a mapping': rule("unmap 'split' removes every mapped page of the range, cutting mappings"),
  'unmap: opens a window': rule('unmap in a deferred domain: the removed pages may still translate until flush'),
  'flush: closes a window': rule('flush completes the invalidation of everything unmapped before it'),
  'setDirtyTracking: enabled': rule('setDirtyTracking(true): writes mark pages dirty', dirty),
  'setDirtyTracking: disabled': rule('setDirtyTracking(false): writes need not mark pages', dirty),
  'readDirty: clear': rule('readDirty with clear: the pages reported are clean afterwards', dirty),
  'readDirty: reports pages': rule('readDirty reports every page written through a current translation', dirty),
  // translate: each fault and each answer of the current state.
  'translate: no domain': rule("translate with no domain attached: 'blocked'"),
  'translate: PASID without domain': rule('PASID traffic never falls back to the RID domain', pasids),
  'translate: blocked domain': rule("translate in a blocked domain: 'blocked'"),
  'translate: identity': rule('identity: pa = iova for iova < 2^52'),
  'translate: identity past 2^52': rule("identity at or above 2^52: 'not-mapped' or pa = iova"),
  'translate: mapped': rule('a mapped page translates to pa + offset'),
  'translate: not mapped': rule("no mapping: 'not-mapped'"),
  'translate: past aperture': rule("iova outside the aperture: 'not-mapped'"),
  'translate: write without WRITE': rule("a 'write' without WRITE: 'permission'"),
  'translate: read of write-only': rule("a 'read' of a write-only mapping: 'permission' or success"),
  'translate: on a PASID': rule('translate with a PASID finds the domain attached to (device, PASID)', pasids),
  'translate: stale window': rule('a page unmapped since the last flush may still translate as before'),
  'translate: stale answer': rule('a stale translation answered inside an open window (allowed)'),
  'translate: stage-1 fault': rule('nested: a stage-1 fault is the answer', nesting),
  'translate: stage-2 fault': rule('nested: the parent translates the IPA; its fault is the answer', nesting),
  'translate: through both stages': rule('nested: IOVA to IPA by stage 1, IPA to PA by the parent', nesting),
  'translate: coarse fault': rule("coarse faults: 'not-mapped' and 'permission' are interchangeable", coarse),
} as const satisfies Record<string, RuleText>;

const argumentRule = (op: Op): string => `${op}: argument out of range`;
type ArgumentRule = `${Op}: argument out of range`;
export type RuleId = keyof typeof STATED | ArgumentRule;

const capabilityOf = (op: Op): Applies | undefined => {
  const capability = (OPS[op] as { capability?: 'pasidReplace' | 'dirtyTracking' }).capability;
  if (capability === 'dirtyTracking') return dirty;
  if (capability === 'pasidReplace') return replace;
  return op === 'attachPasid' || op === 'detachPasid' ? pasids : undefined;
};

/** Every rule with its sentence: first the argument range of each operation, then the rest. */
export const RULES: Readonly<Record<RuleId, RuleText>> = {
  ...(Object.fromEntries(
    (Object.keys(OPS) as Op[]).map((op) => [argumentRule(op), rule(`${op}: any argument outside its range is EINVAL, before any other error`, capabilityOf(op))]),
  ) as Record<ArgumentRule, RuleText>),
  ...STATED,
};

export const RULE_IDS = Object.keys(RULES) as RuleId[];

export const argumentsRule = (op: Op): RuleId => argumentRule(op) as ArgumentRule;

/** Whether the declared capabilities let a rule arise at all. */
export const ruleApplies = (id: RuleId, caps: ResolvedCapabilities): boolean => RULES[id].applies?.(caps) ?? true;
