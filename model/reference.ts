// The reference model: the executable statement of CONTRACT.md. No caches, no cleverness: each
// rule appears once, beside the contract sentence it comes from. Besides the `Iommu` face (which
// answers the current state), it states what else is conforming: the errors a call may answer
// (`allowedErrors`) and the stale translations a deferred domain may still give
// (`allowedTranslations`), and judges an implementation's answer (`check`).
import { AddressSpace, type Extent } from './address-space.ts';
import {
  ERRNOS,
  FAULTS,
  PA_LIMIT,
  PAGE_SIZE,
  READ,
  WRITE,
  type Access,
  type AnswerOf,
  type Call,
  type CallOf,
  type Capabilities,
  type DeviceId,
  type DomainId,
  type Errno,
  type Iommu,
  type Pasid,
  type Result,
  type Translation,
  type VoidResult,
} from './types.ts';
import { DirtyLog } from './dirty.ts';
import { argumentsRule, type RuleId } from './rules.ts';
import { answerShapeOf, installMethods, type Methods } from './ops.ts';
import {
  argumentsInRange,
  hasTable,
  parseDomainOptions,
  resolveCapabilities,
  type DomainConfig,
  type TableConfig,
  type ResolvedCapabilities,
} from './validate.ts';

interface Domain {
  readonly config: DomainConfig;
  readonly space: AddressSpace;
  /** Deferred domains: the pieces unmapped since the last flush, whose answers stay allowed. */
  stale: Extent[];
  /** v2: paging domains created with `dirtyTracking: true`. */
  readonly dirty?: DirtyLog;
}

type TableDomain = Domain & { readonly config: Extract<DomainConfig, TableConfig> };

/** The other fault of the two that coarse faults do not tell apart. */
const COARSE_PARTNER: Partial<Record<string, Translation>> = { 'not-mapped': { ok: false, fault: 'permission' }, permission: { ok: false, fault: 'not-mapped' } };

/** Every answer, and for each 'not-mapped' or 'permission' the other one too. */
function coarsened(ts: Translation[]): Translation[] {
  return dedupe(ts.flatMap((t) => ('fault' in t && COARSE_PARTNER[t.fault] ? [t, COARSE_PARTNER[t.fault]!] : [t])));
}

/** A read-only view of one domain, for generators and reports. */
export interface DomainView {
  readonly id: DomainId;
  readonly config: DomainConfig;
  readonly mappings: readonly Extent[];
  readonly stale: readonly Extent[];
}

export interface AttachmentView {
  readonly device: DeviceId;
  readonly pasid: Pasid;
  readonly domain: DomainId;
}

/** Which errors a call may answer, and whether success is allowed besides them. */
export interface AllowedErrors {
  readonly errors: readonly Errno[];
  readonly mayAlsoSucceed: boolean;
  /** The error conditions that hold (model/rules.ts). */
  readonly rules: readonly RuleId[];
}

export type Verdict =
  | { readonly conforming: true; readonly stale: boolean; readonly dirty?: DirtyCounts; readonly rules: readonly RuleId[] }
  | { readonly conforming: false; readonly expected: string; readonly actual: string; readonly dirty?: DirtyMisses };

/** What a conforming readDirty reported: the pages it had to, and those it did. */
export interface DirtyCounts {
  readonly required: number;
  readonly reported: number;
}

/** What a non-conforming readDirty got wrong: required pages it left out, pages it may not report. */
export interface DirtyMisses {
  readonly domain: DomainId;
  readonly lost: readonly bigint[];
  readonly forbidden: readonly bigint[];
}

const BLOCKED: Translation = { ok: false, fault: 'blocked' };
const NOT_MAPPED: Translation = { ok: false, fault: 'not-mapped' };
const PERMISSION: Translation = { ok: false, fault: 'permission' };
const EINVAL_TRANSLATION: Translation = { ok: false, error: 'EINVAL' };

const isAligned = (x: bigint): boolean => x % PAGE_SIZE === 0n;
const hex = (x: bigint): string => `0x${x.toString(16)}`;

/** A canonical text for a translation, or undefined when the value is not one. */
export function describeTranslation(t: unknown): string | undefined {
  if (typeof t !== 'object' || t === null) return undefined;
  const r = t as { ok?: unknown; pa?: unknown; fault?: unknown; error?: unknown };
  if (r.ok === true) return typeof r.pa === 'bigint' ? `pa ${hex(r.pa)}` : undefined;
  if (r.ok !== false) return undefined;
  if ((FAULTS as readonly unknown[]).includes(r.fault)) return `fault ${String(r.fault)}`;
  return r.error === 'EINVAL' ? 'error EINVAL' : undefined;
}

/** Whether an ascending list holds `x` (binary search: a readDirty answer may list 262144 pages). */
function includesSorted(xs: readonly bigint[], x: bigint): boolean {
  let lo = 0;
  let hi = xs.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (xs[mid]! < x) lo = mid + 1;
    else hi = mid;
  }
  return lo < xs.length && xs[lo] === x;
}

/** A list of page IOVAs as text; a long one by its first pages and its length (a 1G range is 262144 pages). */
function pageList(pages: readonly bigint[]): string {
  const shown = pages.slice(0, 16).map(hex).join(', ');
  return pages.length > 16 ? `[${shown}, ... (${pages.length} pages)]` : `[${shown}]`;
}

/** A canonical text for any answer of `op` (by its answer shape), or undefined when it is not one. */
export const describeAnswer = (answer: unknown, op: Call['op']): string | undefined =>
  answerShapeOf(op) === 'translation' ? describeTranslation(answer) : describeResult(answer, op);

/** A canonical text for a Result, or undefined when the value is not one. */
export function describeResult(r: unknown, op: Call['op']): string | undefined {
  if (typeof r !== 'object' || r === null) return undefined;
  const v = r as { ok?: unknown; value?: unknown; error?: unknown };
  if (v.ok === true) {
    const shape = answerShapeOf(op);
    if (shape === 'pages') return Array.isArray(v.value) && v.value.every((x) => typeof x === 'bigint') ? `ok ${pageList(v.value)}` : undefined;
    if (shape !== 'bytes') return 'ok';
    return typeof v.value === 'bigint' ? `ok ${hex(v.value)}` : undefined;
  }
  return v.ok === false && (ERRNOS as readonly unknown[]).includes(v.error) ? `error ${String(v.error)}` : undefined;
}

/** What one mapping answers for an access ("a 'write' without WRITE: 'permission'"). */
function answersOf(e: Extent, iova: bigint, access: Access): Translation[] {
  const pa: Translation = { ok: true, pa: e.pa + (iova - e.iova) };
  if (access === 'write') return e.prot & WRITE ? [pa] : [PERMISSION];
  // "A 'read' of a write-only mapping may either fault 'permission' or succeed."
  return e.prot & READ ? [pa] : [PERMISSION, pa];
}

export interface ReferenceIommu extends Methods<'sync'> {}
export class ReferenceIommu implements Iommu {
  readonly capabilities?: Capabilities;
  private readonly caps: ResolvedCapabilities;
  private readonly domains = new Map<DomainId, Domain>();
  private readonly ridDomain = new Map<DeviceId, DomainId>();
  private readonly pasidDomain = new Map<string, DomainId>();

  /** Throws a TypeError for invalid capabilities (a mistake of the caller, not of a call). */
  constructor(capabilities?: Capabilities) {
    this.caps = resolveCapabilities(capabilities);
    if (capabilities !== undefined) this.capabilities = capabilities;
  }

  // ---- The Iommu face (its methods come from the registry, see the end of this file): the
  // current state, one deterministic answer per call. ----

  /** Performs a call: the first applicable error, else the success. */
  perform<C extends Call>(call: C): AnswerOf<C> {
    if (call.op === 'translate') {
      const answer = this.allowedTranslations(call.device, call.pasid, call.iova, call.access)[0]!;
      if (answer.ok && call.access === 'write') this.wrote(call.device, call.pasid, call.iova, answer.pa);
      return answer as AnswerOf<C>;
    }
    const { errors } = this.allowedErrors(call);
    return (errors.length > 0 ? { ok: false, error: errors[0] } : this.apply(call)) as AnswerOf<C>;
  }

  // ---- What is allowed. ----

  /** "Any argument outside its range ... is answered with EINVAL ... argument validity comes first." */
  argumentsValid(call: Call): boolean {
    return argumentsInRange(call, this.caps);
  }

  /**
   * Every error the call may answer ("if several error conditions of a call hold, any one of them
   * is a conforming answer"), in the order the face answers them.
   */
  allowedErrors(call: Call): AllowedErrors {
    if (!this.argumentsValid(call)) return { errors: ['EINVAL'], mayAlsoSucceed: false, rules: [argumentsRule(call.op)] };
    const errors: Errno[] = [];
    const rules: RuleId[] = [];
    const when = (condition: boolean, errno: Errno, rule: RuleId): void => {
      if (!condition) return;
      rules.push(rule);
      if (!errors.includes(errno)) errors.push(errno);
    };
    switch (call.op) {
      case 'createDomain': {
        const config = parseDomainOptions(call.options, this.caps);
        when(config === undefined, 'EINVAL', 'createDomain: bad options');
        when(this.domains.has(call.id), 'EEXIST', 'createDomain: id in use'); // "EEXIST if the id is in use"
        if (config?.type === 'nested') {
          const parent = this.domains.get(config.parent);
          when(parent === undefined, 'ENOENT', 'createDomain: unknown parent'); // "parent: ENOENT if no such domain"
          when(parent !== undefined && parent.config.type !== 'paging', 'EINVAL', 'createDomain: parent not paging'); // "EINVAL if it is not a paging domain"
        }
        // "createDomain may answer ENOSPC only when maxDomains domains exist" (may: success too).
        if (errors.length === 0 && this.domains.size >= this.caps.maxDomains)
          return { errors: ['ENOSPC'], mayAlsoSucceed: true, rules: ['createDomain: maxDomains'] };
        when(this.domains.size >= this.caps.maxDomains, 'ENOSPC', 'createDomain: maxDomains');
        break;
      }
      case 'destroyDomain':
        when(!this.domains.has(call.id), 'ENOENT', 'destroyDomain: unknown'); // "ENOENT if unknown"
        when(this.isAttached(call.id), 'EBUSY', 'destroyDomain: attached'); // "EBUSY if attached to any device or (device, PASID)"
        when(this.hasNested(call.id), 'EBUSY', 'destroyDomain: nested over it'); // v2: "EBUSY while a nested domain over it exists"
        break;
      case 'attachDevice':
        when(!this.domains.has(call.domain), 'ENOENT', 'attachDevice: unknown domain'); // "ENOENT if the domain is unknown"
        break;
      case 'detachDevice':
        when(!this.ridDomain.has(call.device), 'ENOENT', 'detachDevice: no RID domain'); // "ENOENT if the device has no RID domain"
        break;
      case 'attachPasid': {
        const current = this.pasidDomain.get(pasidKey(call.device, call.pasid));
        // v2: "attachPasid of the domain that PASID already has: EBUSY, as in the core API, or
        // success, as in iommufd; both conform".
        if (current === call.domain) return { errors: ['EBUSY'], mayAlsoSucceed: true, rules: ['attachPasid: same domain'] };
        when(!this.domains.has(call.domain), 'ENOENT', 'attachPasid: unknown domain'); // "ENOENT for an unknown domain"
        when(current !== undefined, 'EBUSY', 'attachPasid: PASID has a domain'); // "already has a domain"
        break;
      }
      case 'replacePasid':
        when(!this.domains.has(call.domain), 'ENOENT', 'replacePasid: unknown domain'); // "ENOENT if the domain is unknown"
        when(!this.pasidDomain.has(pasidKey(call.device, call.pasid)), 'ENOENT', 'replacePasid: no domain'); // "or if (device, PASID) has no domain"
        break;
      case 'detachPasid':
        when(!this.pasidDomain.has(pasidKey(call.device, call.pasid)), 'ENOENT', 'detachPasid: no domain'); // "if it has none"
        break;
      case 'map':
        this.mapErrors(call, when);
        break;
      case 'unmap':
        this.unmapErrors(call, when);
        break;
      case 'flush':
        when(!this.domains.has(call.domain), 'ENOENT', 'flush: unknown domain'); // "ENOENT if unknown"
        break;
      case 'setDirtyTracking':
        when(!this.domains.has(call.domain), 'ENOENT', 'setDirtyTracking: unknown domain'); // "ENOENT unknown"
        when(this.domains.has(call.domain) && !this.domains.get(call.domain)!.dirty, 'EINVAL', 'setDirtyTracking: not tracking'); // "not created with dirtyTracking: true"
        break;
      case 'readDirty': {
        const domain = this.domains.get(call.domain);
        when(domain === undefined, 'ENOENT', 'readDirty: unknown domain'); // "ENOENT unknown"
        when(domain !== undefined && !domain.dirty, 'EINVAL', 'readDirty: not tracking'); // "not created with dirtyTracking: true"
        when(call.size === 0n, 'EINVAL', 'readDirty: size 0'); // "size is 0"
        when(!isAligned(call.iova) || !isAligned(call.size), 'EINVAL', 'readDirty: unaligned'); // "iova or size is not a multiple of 4096"
        when(domain?.config.type === 'paging' && call.iova + call.size > domain.config.aperture, 'ERANGE', 'readDirty: past aperture'); // "passes the aperture"
        break;
      }
      case 'translate':
        break; // translate answers faults, not errors
    }
    return { errors, mayAlsoSucceed: false, rules };
  }

  private mapErrors(call: CallOf<'map'>, when: (condition: boolean, errno: Errno, rule: RuleId) => void): void {
    const domain = this.domains.get(call.domain);
    const config = domain?.config;
    when(domain === undefined, 'ENOENT', 'map: unknown domain'); // "ENOENT unknown domain"
    // A nested domain "is a paging domain in every other respect": its table maps IOVAs to IPAs.
    const table = config !== undefined && hasTable(config) ? config : undefined;
    when(config !== undefined && table === undefined, 'EINVAL', 'map: not paging'); // "EINVAL if the domain is not paging"
    when(call.size === 0n, 'EINVAL', 'map: size 0'); // "size is 0"
    when(!isAligned(call.iova) || !isAligned(call.pa) || !isAligned(call.size), 'EINVAL', 'map: unaligned'); // "not a multiple of 4096"
    when(table !== undefined && call.iova + call.size > table.aperture, 'ERANGE', 'map: past aperture'); // "passes the aperture"
    when(call.pa + call.size > PA_LIMIT, 'ERANGE', 'map: past 2^52'); // "or pa + size passes 2^52" (an IPA too)
    when(table !== undefined && domain!.space.anyMapped(call.iova, call.size), 'EEXIST', 'map: already mapped'); // "any page mapped"
  }

  private unmapErrors(call: CallOf<'unmap'>, when: (condition: boolean, errno: Errno, rule: RuleId) => void): void {
    const domain = this.domains.get(call.domain);
    const config = domain?.config;
    when(domain === undefined, 'ENOENT', 'unmap: unknown domain'); // "ENOENT unknown domain"
    const table = config !== undefined && hasTable(config) ? config : undefined;
    when(config !== undefined && table === undefined, 'EINVAL', 'unmap: not paging'); // "EINVAL if not paging"
    when(call.size === 0n, 'EINVAL', 'unmap: size 0'); // "size is 0"
    when(!isAligned(call.iova) || !isAligned(call.size), 'EINVAL', 'unmap: unaligned'); // "iova/size not multiples of 4096"
    when(table !== undefined && call.iova + call.size > table.aperture, 'ERANGE', 'unmap: past aperture'); // "passes the aperture"
    // 'whole': "the range must not cut through a mapping made by one map call: if it does, EINVAL".
    when(table?.unmap === 'whole' && domain!.space.cutsThrough(call.iova, call.size), 'EINVAL', 'unmap: whole cuts a mapping');
  }

  /**
   * Every conforming answer of translate, the current state's first. A deferred domain adds, for
   * a page unmapped since its last flush, what each mapping removed from it would answer.
   */
  allowedTranslations(device: DeviceId, pasid: Pasid, iova: bigint, access: Access): Translation[] {
    const { current, stale } = this.translations(device, pasid, iova, access);
    return dedupe([...current, ...stale]);
  }

  private translations(device: DeviceId, pasid: Pasid, iova: bigint, access: Access): { current: Translation[]; stale: Translation[] } {
    if (!this.argumentsValid({ op: 'translate', device, pasid, iova, access })) return { current: [EINVAL_TRANSLATION], stale: [] };
    // "finds the domain attached to (device, pasid), or to the device's RID when pasid is null";
    // PASID traffic never falls back to the RID domain.
    const domain = this.domainOf(device, pasid);
    // "none, or a blocked domain: 'blocked'"
    if (domain === undefined || domain.config.type === 'blocked') return { current: [BLOCKED], stale: [] };
    // identity: "pa = iova for iova < 2^52; at or above, either 'not-mapped' or pa = iova exactly"
    if (domain.config.type === 'identity')
      return { current: iova < PA_LIMIT ? [{ ok: true, pa: iova }] : [NOT_MAPPED, { ok: true, pa: iova }], stale: [] };
    const answers = this.tableAnswers(domain as TableDomain, iova, access);
    // v2: with coarseFaults, "'not-mapped' and 'permission' are interchangeable in every answer".
    return this.caps.coarseFaults ? { current: coarsened(answers.current), stale: coarsened(answers.stale) } : answers;
  }

  private domainOf(device: DeviceId, pasid: Pasid): Domain | undefined {
    const id = pasid === null ? this.ridDomain.get(device) : this.pasidDomain.get(pasidKey(device, pasid));
    return id === undefined ? undefined : this.domains.get(id);
  }

  /**
   * Dirty tracking: a successful write marks the leaf it went through: the page of a paging
   * domain, or for a nested domain the parent's IPA page ("the page is then the IPA's page").
   * It counts as required only if it went through current translations at every stage.
   */
  private wrote(device: DeviceId, pasid: Pasid, iova: bigint, pa: bigint): void {
    const domain = this.domainOf(device, pasid);
    if (domain === undefined || !hasTable(domain.config)) return;
    const gives = (ts: Translation[]): boolean => ts.some((t) => t.ok && t.pa === pa);
    if (domain.config.type === 'paging') {
      domain.dirty?.wrote(iova / PAGE_SIZE, gives(this.tableAnswers(domain as TableDomain, iova, 'write').current));
      return;
    }
    const parent = this.domains.get(domain.config.parent)!;
    const current = domain.space.lookup(iova);
    const stage1 = [...(current ? [current] : []), ...domain.stale.filter((e) => e.iova <= iova && iova < e.iova + e.size)];
    for (const e of stage1) {
      const ipa = e.pa + (iova - e.iova);
      const stage2 = this.tableAnswers(parent as TableDomain, ipa, 'write');
      if (gives(stage2.current) || gives(stage2.stale)) parent.dirty?.wrote(ipa / PAGE_SIZE, e === current && gives(stage2.current));
    }
  }

  /** What a paging or nested domain's table answers at an address: now, and from its open window. */
  private tableAnswers(domain: TableDomain, address: bigint, access: Access): { current: Translation[]; stale: Translation[] } {
    // paging: "no mapping (or iova outside the aperture): 'not-mapped'"
    const mapping = address < domain.config.aperture ? domain.space.lookup(address) : undefined;
    const current = mapping ? answersOf(mapping, address, access) : [NOT_MAPPED];
    // deferred: the removed mappings' answers stay conforming until the next flush or destroy.
    const stale = domain.stale.filter((e) => e.iova <= address && address < e.iova + e.size).flatMap((e) => answersOf(e, address, access));
    if (domain.config.type !== 'nested') return { current, stale };
    // nested: "stage 1 translates the IOVA as a paging domain would; a stage-1 fault is the answer.
    // Otherwise the parent translates the IPA as a paging domain would". "Coherency composes":
    // every stage-1 answer its own rules allow, then every stage-2 answer the parent's allow.
    const parent = this.domains.get(domain.config.parent) as TableDomain; // it exists: destroy is EBUSY
    const stage2 = (t: Translation) => (t.ok ? this.tableAnswers(parent, t.pa, access) : { current: [t], stale: [] });
    return {
      current: current.flatMap((t) => stage2(t).current),
      stale: [...current.flatMap((t) => stage2(t).stale), ...stale.flatMap((t) => [...stage2(t).current, ...stage2(t).stale])],
    };
  }

  /**
   * Judges an implementation's answer to `call` against the allowed set; when it conforms, the
   * model takes the same step (so that an allowed ENOSPC or success is followed as answered).
   */
  check(call: Call, answer: unknown): Verdict {
    if (call.op === 'translate') {
      const { current, stale } = this.translations(call.device, call.pasid, call.iova, call.access);
      const actual = describeTranslation(answer);
      const isIn = (set: Translation[]): boolean => set.some((t) => describeTranslation(t) === actual);
      const write = (): void => {
        const t = answer as Translation; // conforming, so well formed
        if (call.access === 'write' && t.ok) this.wrote(call.device, call.pasid, call.iova, t.pa);
      };
      const rules = (answeredStale: boolean) => this.translateRules(call, current, stale, answeredStale);
      if (actual !== undefined && isIn(current)) return write(), { conforming: true, stale: false, rules: rules(false) };
      if (actual !== undefined && isIn(stale)) return write(), { conforming: true, stale: true, rules: rules(true) };
      return notConforming(dedupe([...current, ...stale]).map((t) => describeTranslation(t)!), answer, actual);
    }
    const allowedErrors = this.allowedErrors(call);
    if (call.op === 'readDirty' && (answer as { ok?: unknown } | null)?.ok === true && allowedErrors.errors.length === 0)
      return this.checkReadDirty(call, answer as { value?: unknown });
    const allowed = this.answersFrom(call, allowedErrors);
    const texts = allowed.map((a) => describeResult(a, call.op)!);
    const actual = describeResult(answer, call.op);
    if (actual === undefined || !texts.includes(actual)) return notConforming(texts, answer, actual);
    if (!allowed[texts.indexOf(actual)]!.ok) return { conforming: true, stale: false, rules: allowedErrors.rules };
    const rules = [...allowedErrors.rules, ...this.successRules(call)];
    this.apply(call);
    return { conforming: true, stale: false, rules };
  }

  /** The rules a conforming translation exercised (model/rules.ts): what decided the current answer, and the open window. */
  private translateRules(call: CallOf<'translate'>, current: Translation[], stale: Translation[], answeredStale: boolean): RuleId[] {
    if (!this.argumentsValid(call)) return [argumentsRule('translate')];
    const domain = this.domainOf(call.device, call.pasid);
    const rules: RuleId[] = call.pasid === null ? [] : ['translate: on a PASID'];
    if (domain === undefined) {
      rules.push(call.pasid !== null && this.ridDomain.has(call.device) ? 'translate: PASID without domain' : 'translate: no domain');
      return rules;
    }
    const { config } = domain;
    if (config.type === 'blocked') return [...rules, 'translate: blocked domain'];
    if (config.type === 'identity') return [...rules, call.iova < PA_LIMIT ? 'translate: identity' : 'translate: identity past 2^52'];
    const mapping = call.iova < config.aperture ? domain.space.lookup(call.iova) : undefined;
    if (call.iova >= config.aperture) rules.push('translate: past aperture');
    else if (mapping === undefined) rules.push('translate: not mapped');
    else if (call.access === 'write' && !(mapping.prot & WRITE)) rules.push('translate: write without WRITE');
    else if (call.access === 'read' && !(mapping.prot & READ)) rules.push('translate: read of write-only');
    else rules.push('translate: mapped');
    if (config.type === 'nested') {
      const stage1Faults = mapping === undefined || (call.access === 'write' && !(mapping.prot & WRITE));
      if (stage1Faults) rules.push('translate: stage-1 fault');
      else rules.push(current.some((t) => t.ok) ? 'translate: through both stages' : 'translate: stage-2 fault');
    }
    if (stale.length > 0) rules.push('translate: stale window');
    if (answeredStale) rules.push('translate: stale answer');
    if (this.caps.coarseFaults && current.some((t) => !t.ok)) rules.push('translate: coarse fault');
    return rules;
  }

  /** The rules a successful call exercises besides its error conditions (model/rules.ts), in the state before it. */
  private successRules(call: Exclude<Call, { op: 'translate' }>): RuleId[] {
    switch (call.op) {
      case 'createDomain': {
        const config = parseDomainOptions(call.options, this.caps)!;
        const rules: RuleId[] = [`createDomain: ${config.type}`];
        if (hasTable(config) && config.invalidation === 'deferred') rules.push('createDomain: deferred');
        if (hasTable(config) && config.unmap === 'whole') rules.push('createDomain: whole unmap');
        if (config.type === 'paging' && config.dirtyTracking === true) rules.push('createDomain: dirty tracking');
        return rules;
      }
      case 'destroyDomain':
        return this.domains.get(call.id)!.stale.length > 0 ? ['destroyDomain: closes its window'] : [];
      case 'attachDevice':
        return this.ridDomain.has(call.device) ? ['attachDevice: replaces'] : [];
      case 'detachDevice':
        return ['detachDevice: blocks'];
      case 'detachPasid':
        return ['detachPasid: blocks'];
      case 'replacePasid':
        return ['replacePasid: replaces'];
      case 'unmap': {
        const domain = this.domains.get(call.domain)!;
        const config = domain.config as TableConfig;
        if (domain.space.bytesMapped(call.iova, call.size) === 0n) return ['unmap: nothing mapped'];
        const rules: RuleId[] = config.invalidation === 'deferred' ? ['unmap: opens a window'] : [];
        if (config.unmap === 'split' && domain.space.cutsThrough(call.iova, call.size)) rules.push('unmap: split cuts a mapping');
        return rules;
      }
      case 'flush':
        return this.domains.get(call.domain)!.stale.length > 0 ? ['flush: closes a window'] : [];
      case 'setDirtyTracking':
        return [call.enabled ? 'setDirtyTracking: enabled' : 'setDirtyTracking: disabled'];
      default:
        return [];
    }
  }

  /**
   * "readDirty is judged as a set": the IOVAs of pages of the range, ascending, 4K-aligned, each
   * once; every page that must be reported is; no page is that may not be. Then its clear.
   */
  private checkReadDirty(call: CallOf<'readDirty'>, answer: { value?: unknown }): Verdict {
    const domain = this.domains.get(call.domain)!;
    const dirty = domain.dirty!;
    const first = call.iova / PAGE_SIZE;
    const required = dirty.requiredIn(first, call.size / PAGE_SIZE).map((p) => p * PAGE_SIZE);
    const expected = `ok with every page of ${pageList(required)} and only pages it may report`;
    const actual = describeResult(answer, 'readDirty') ?? `malformed answer ${safeString(answer)}`;
    const value = answer.value;
    const inRange = (x: bigint) => x >= call.iova && x < call.iova + call.size;
    const wellFormed = Array.isArray(value) && value.every((x, i) => typeof x === 'bigint' && isAligned(x) && inRange(x) && (i === 0 || x > (value[i - 1] as bigint)));
    if (!wellFormed) return { conforming: false, expected: `${expected} (ascending, 4K-aligned, each once, inside the range)`, actual };
    const reported = value as bigint[];
    const lost = required.filter((p) => !includesSorted(reported, p));
    const may = dirty.reportable();
    const forbidden: bigint[] = [];
    for (const p of reported) if (!may(p / PAGE_SIZE, () => domain.space.lookup(p) !== undefined) && forbidden.push(p) >= 8) break; // a few name it
    if (lost.length > 0 || forbidden.length > 0) return { conforming: false, expected, actual, dirty: { domain: call.domain, lost, forbidden } };
    this.apply(call);
    const rules: RuleId[] = call.clear ? ['readDirty: reports pages', 'readDirty: clear'] : ['readDirty: reports pages'];
    return { conforming: true, stale: false, dirty: { required: required.length, reported: reported.length }, rules };
  }

  /** Every conforming answer of a call other than translate: its success, if allowed, and its errors. */
  allowedAnswers(call: Exclude<Call, { op: 'translate' }>): (VoidResult | Result<bigint>)[] {
    return this.answersFrom(call, this.allowedErrors(call));
  }

  private answersFrom(call: Exclude<Call, { op: 'translate' }>, { errors, mayAlsoSucceed }: AllowedErrors): (VoidResult | Result<bigint>)[] {
    const failures = errors.map((error): VoidResult => ({ ok: false, error }));
    return errors.length === 0 || mayAlsoSucceed ? [this.successOf(call), ...failures] : failures;
  }

  private successOf(call: Exclude<Call, { op: 'translate' }>): VoidResult | Result<bigint> {
    // readDirty: the pages it must report (any allowed superset conforms too: see checkReadDirty).
    if (call.op === 'readDirty')
      return { ok: true, value: this.domains.get(call.domain)!.dirty!.requiredIn(call.iova / PAGE_SIZE, call.size / PAGE_SIZE).map((p) => p * PAGE_SIZE) };
    if (call.op !== 'unmap') return { ok: true };
    // Either mode answers the bytes that were mapped in the range.
    return { ok: true, value: this.domains.get(call.domain)!.space.bytesMapped(call.iova, call.size) };
  }

  // ---- The state transitions of successful calls. ----

  private apply(call: Exclude<Call, { op: 'translate' }>): VoidResult | Result<bigint> {
    switch (call.op) {
      case 'createDomain':
        // "A new paging domain is empty"; "after destroy the id may be created again, empty".
        const config = parseDomainOptions(call.options, this.caps)!;
        const dirty = config.type === 'paging' && config.dirtyTracking === true ? new DirtyLog(config.pageSizes) : undefined;
        this.domains.set(call.id, { config, space: new AddressSpace(), stale: [], ...(dirty ? { dirty } : {}) });
        break;
      case 'destroyDomain':
        this.domains.delete(call.id); // closes its deferred window too
        break;
      case 'attachDevice':
        this.ridDomain.set(call.device, call.domain); // "Replaces the device's current RID domain"
        break;
      case 'detachDevice':
        this.ridDomain.delete(call.device); // "Afterwards RID traffic of the device is blocked"
        break;
      case 'attachPasid':
      case 'replacePasid': // "Replaces the PASID's domain in one step"
        this.pasidDomain.set(pasidKey(call.device, call.pasid), call.domain);
        break;
      case 'detachPasid':
        this.pasidDomain.delete(pasidKey(call.device, call.pasid)); // "traffic with that PASID is blocked"
        break;
      case 'map':
        // "every page iova + k*4096 translates to pa + k*4096 with prot"
        this.domains.get(call.domain)!.space.insert({ iova: call.iova, size: call.size, pa: call.pa, prot: call.prot });
        break;
      case 'unmap': {
        // 'split' removes every mapped page of the range; 'whole' (no cut, checked above) removes
        // the mappings inside it: either way the answer is the bytes that were mapped there.
        const domain = this.domains.get(call.domain)!;
        const removed = domain.space.remove(call.iova, call.size);
        if (hasTable(domain.config) && domain.config.invalidation === 'deferred') domain.stale.push(...removed);
        for (const e of removed) domain.dirty?.unmapped(e.iova / PAGE_SIZE, e.size / PAGE_SIZE);
        return { ok: true, value: removed.reduce((sum, e) => sum + e.size, 0n) };
      }
      case 'flush':
        // "In a deferred domain it completes the invalidation of everything unmapped before it."
        this.domains.get(call.domain)!.stale = [];
        break;
      case 'setDirtyTracking':
        this.domains.get(call.domain)!.dirty!.tracking = call.enabled;
        break;
      case 'readDirty': {
        const dirty = this.domains.get(call.domain)!.dirty!;
        const value = dirty.requiredIn(call.iova / PAGE_SIZE, call.size / PAGE_SIZE).map((p) => p * PAGE_SIZE);
        if (call.clear) dirty.clear(call.iova / PAGE_SIZE, call.size / PAGE_SIZE);
        return { ok: true, value };
      }
    }
    return { ok: true };
  }

  // ---- Read-only views, for generators and reports. ----

  get resolvedCapabilities(): ResolvedCapabilities {
    return this.caps;
  }

  domainViews(): DomainView[] {
    return [...this.domains].map(([id, d]) => ({ id, config: d.config, mappings: d.space.list(), stale: d.stale }));
  }

  attachments(): AttachmentView[] {
    const rid = [...this.ridDomain].map(([device, domain]) => ({ device, pasid: null, domain }));
    const pasids = [...this.pasidDomain].map(([key, domain]) => {
      const [device, pasid] = key.split('/').map(Number);
      return { device, pasid, domain };
    });
    return [...rid, ...pasids];
  }

  private hasNested(id: DomainId): boolean {
    return [...this.domains.values()].some((d) => d.config.type === 'nested' && d.config.parent === id);
  }

  private isAttached(id: DomainId): boolean {
    return [...this.ridDomain.values(), ...this.pasidDomain.values()].includes(id);
  }
}

installMethods(ReferenceIommu.prototype);

const pasidKey = (device: DeviceId, pasid: number): string => `${device}/${pasid}`;

function dedupe(ts: Translation[]): Translation[] {
  const seen = new Set<string | undefined>();
  return ts.filter((t) => {
    const key = describeTranslation(t);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

function notConforming(allowed: string[], answer: unknown, actual: string | undefined): Verdict {
  return { conforming: false, expected: allowed.join(' | '), actual: actual ?? `malformed answer ${safeString(answer)}` };
}

function safeString(value: unknown): string {
  try {
    return JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v)) ?? String(value);
  } catch {
    return String(value);
  }
}
