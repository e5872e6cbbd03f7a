// One run of the harness: an implementation under test beside a fresh reference model. Every
// call goes to both; the implementation's answer must be in the model's allowed set, then the
// invariant probe and the implementation's own self-check run. A disagreement throws a
// ConformanceFailure that names the property it breaks.
import { ReferenceIommu, describeResult, describeTranslation } from '../model/reference.ts';
import type { Call, Capabilities, DomainOptions, Iommu } from '../model/types.ts';
import { formatCall, literal } from './format.ts';
import type { Intent } from './intents.ts';
import { andThen, forEachInOrder, invoke, type Maybe } from './invoke.ts';
import { RunMemory } from './memory.ts';
import { focusOf, probesAfter, type StateView } from './probe.ts';
import { resolve, type Scene } from './resolve.ts';

export interface RunSettings {
  readonly capabilities: Capabilities | undefined;
  readonly kinds: readonly Partial<DomainOptions>[];
  readonly representableOnly: boolean;
  readonly stepTimeoutMs: number;
}

/** One step of a trace: a call and what the implementation answered, or its self-check. */
export type TraceEntry =
  | { readonly call: Call; readonly answer: unknown; readonly threw: boolean; readonly probe: boolean }
  | { readonly selfCheck: true; readonly answer: unknown; readonly threw: boolean };

export class ConformanceFailure extends Error {
  constructor(
    /** ISOLATION, COHERENCY, PERMISSION, TRANSLATION, RESULT, THREW or SELF-CHECK. */
    readonly property: string,
    message: string,
    /** The conforming answers of the failing call (empty for a self-check). */
    readonly allowed: readonly unknown[],
  ) {
    super(message);
    this.name = 'ConformanceFailure';
  }
}

/** Counters of what was generated and what happened, summed over runs. */
export type Statistics = Record<string, number>;

const count = (stats: Statistics | undefined, key: string): void => {
  if (stats) stats[key] = (stats[key] ?? 0) + 1;
};

type SelfChecking = { checkInvariants?: () => unknown };

export class RunContext {
  readonly model: ReferenceIommu;
  readonly memory = new RunMemory();
  readonly trace: TraceEntry[] = [];
  private steps = 0;

  constructor(
    readonly iommu: Iommu,
    private readonly settings: RunSettings,
    private readonly stats?: Statistics,
  ) {
    this.model = new ReferenceIommu(settings.capabilities);
  }

  /**
   * Resolves an intent against the current state and runs its calls, each with its probe and
   * self-check. A storm is quiet: no probes (they would fill a small IOTLB and evict the entry it
   * watches; it carries its own translations), one self-check at its end (its rounds are many).
   */
  runIntent(intent: Intent): Maybe<void> {
    if (intent.kind !== 'storm') return forEachInOrder(resolve(this.scene(), intent), (call) => this.step(call, true));
    count(this.stats, 'shape:invalidation-storm');
    return andThen(
      forEachInOrder(resolve(this.scene(), intent), (call) => this.step(call, false, false)),
      () => this.selfCheck(),
    );
  }

  /** One call, then (when `withProbes`) its invariant probe, then (when `withSelfCheck`) the implementation's self-check. */
  step(call: Call, withProbes: boolean, withSelfCheck = true): Maybe<void> {
    // Out-of-range arguments must be refused; there is nothing to probe or measure about them.
    const valid = this.model.argumentsValid(call);
    const before = valid ? this.view() : undefined;
    const focus = before && focusOf(before, call);
    this.steps++;
    count(this.stats, 'steps');
    if (before) this.countShape(call, before);
    else count(this.stats, 'shape:invalid-arguments');
    const probe = (): Maybe<void> =>
      withProbes && focus ? forEachInOrder(probesAfter(this.view(), call, focus, this.steps, [...this.memory.pastMappings.slice(-2), ...this.memory.recentlyUnmapped.slice(-1)]), (p) => this.execute(p, true)) : undefined;
    return andThen(this.execute(call, false), () => andThen(probe(), () => (withSelfCheck ? this.selfCheck() : undefined)));
  }

  private view(): StateView {
    return { domains: this.model.domainViews(), attachments: this.model.attachments() };
  }

  private scene(): Scene {
    return {
      caps: this.model.resolvedCapabilities,
      ...this.view(),
      recentlyUnmapped: this.memory.recentlyUnmapped,
      pastMappings: this.memory.pastMappings,
      destroyed: this.memory.destroyed,
      kinds: this.settings.kinds,
      representableOnly: this.settings.representableOnly,
    };
  }

  private execute(call: Call, probe: boolean): Maybe<void> {
    count(this.stats, probe ? 'probes' : `command:${call.op}`);
    return andThen(invoke(this.iommu, call, this.settings.stepTimeoutMs), (outcome) => {
      const threw = 'threw' in outcome;
      const answer = threw ? outcome.threw : outcome.answer;
      this.trace.push({ call, answer, threw, probe });
      if (threw) throw new ConformanceFailure('THREW', `${formatCall(call)} threw instead of answering: ${errorText(answer)}`, this.allowedAnswers(call));
      const verdict = this.model.check(call, answer);
      if (!verdict.conforming) throw this.failure(call, answer, verdict.expected, verdict.actual);
      if (verdict.stale) count(this.stats, 'stale-allowed');
      this.countAnswer(call, answer);
      if ((answer as { ok?: unknown }).ok === true) this.memory.succeeded(call);
    });
  }

  private selfCheck(): Maybe<void> {
    const hook = (this.iommu as SelfChecking).checkInvariants;
    if (typeof hook !== 'function') return;
    let result: unknown;
    try {
      result = hook.call(this.iommu);
    } catch (error) {
      this.trace.push({ selfCheck: true, answer: error, threw: true });
      throw new ConformanceFailure('SELF-CHECK', `checkInvariants() threw: ${errorText(error)}`, []);
    }
    return andThen(result, (problems) => {
      this.trace.push({ selfCheck: true, answer: problems, threw: false });
      const bad = problems === false || (Array.isArray(problems) && problems.length > 0) || (typeof problems === 'string' && problems !== '');
      if (bad) throw new ConformanceFailure('SELF-CHECK', `checkInvariants() reported: ${literal(problems)}`, []);
    });
  }

  /** Every conforming answer of `call` in the current state. */
  allowedAnswers(call: Call): unknown[] {
    return call.op === 'translate'
      ? this.model.allowedTranslations(call.device, call.pasid, call.iova, call.access)
      : this.model.allowedAnswers(call);
  }

  private failure(call: Call, answer: unknown, expected: string, actual: string): ConformanceFailure {
    const allowed = this.allowedAnswers(call);
    const { property, why } =
      call.op === 'translate'
        ? this.memory.explain(call, answer, this.model.allowedTranslations(call.device, call.pasid, call.iova, call.access))
        : { property: 'RESULT', why: `${call.op} answered outside the contract` };
    return new ConformanceFailure(property, `${property} violated: ${why}.\n  call:     ${formatCall(call)}\n  answered: ${actual}\n  allowed:  ${expected}`, allowed);
  }

  private countAnswer(call: Call, answer: unknown): void {
    const text = call.op === 'translate' ? describeTranslation(answer) : describeResult(answer, call.op);
    if (text === undefined) return;
    if (text.startsWith('error ')) count(this.stats, `error:${text.slice(6)}`);
    else if (text.startsWith('fault ')) count(this.stats, `fault:${text.slice(6)}`);
    else count(this.stats, call.op === 'translate' ? 'translate:ok' : `ok:${call.op}`);
  }

  /** Counts the shapes that break real IOMMUs, so a user sees the generator reaches them. */
  private countShape(call: Call, { domains: views, attachments }: StateView): void {
    if (call.op === 'map') {
      const bigAligned = call.size >= 0x20_0000n && call.iova % 0x20_0000n === call.pa % 0x20_0000n;
      if (bigAligned) count(this.stats, 'shape:map-superpage-candidate');
      if (views.some((d) => d.id !== call.domain && d.mappings.some((e) => e.pa === call.pa))) count(this.stats, 'shape:map-shared-pa');
      if (views.find((d) => d.id === call.domain)?.stale.some((e) => e.iova < call.iova + call.size && call.iova < e.iova + e.size))
        count(this.stats, 'shape:remap-before-flush');
    }
    if (call.op === 'unmap') {
      const cuts = views.find((d) => d.id === call.domain)?.mappings.some((e) => e.iova < call.iova + call.size && call.iova < e.iova + e.size && (e.iova < call.iova || e.iova + e.size > call.iova + call.size));
      if (cuts) count(this.stats, 'shape:unmap-cuts-mapping');
    }
    if (call.op === 'createDomain' && this.memory.destroyed.includes(call.id)) count(this.stats, 'shape:domain-id-reuse');
    if (call.op === 'attachPasid' && attachments.some((a) => a.device === call.device && a.pasid === null))
      count(this.stats, 'shape:pasid-beside-rid');
  }
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : literal(error);
}
