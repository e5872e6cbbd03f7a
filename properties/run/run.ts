// One run of the harness: an implementation under test beside a fresh reference model. Every
// call goes to both; the implementation's answer must be in the model's allowed set, then the
// invariant probe and the implementation's own self-check run. Everything is recorded in the
// trace; a disagreement throws a ConformanceFailure that names the property it breaks.
import { ReferenceIommu, type Verdict } from '../../model/reference.ts';
import type { Call } from '../../model/ops.ts';
import type { Capabilities, DomainOptions, Iommu } from '../../model/types.ts';
import type { Intent } from '../generate/intents.ts';
import { resolve, type Scene } from '../generate/resolve.ts';
import { bitShapeOf } from '../generate/resolve-bits.ts';
import { SceneMemory } from '../generate/scene.ts';
import { focusOf, probesAfter, type StateView } from '../probe/probe.ts';
import { formatCall, literal } from '../report/format.ts';
import { classify } from '../verdict/classify.ts';
import { shapesOf } from '../verdict/statistics.ts';
import { andThen, awaitOutcome, forEachInOrder, invoke, isPipelined, issue, type Maybe, type Outcome } from './invoke.ts';
import { ConformanceFailure, type CallEntry, type Judgement, type TraceEntry } from './trace.ts';

export interface RunSettings {
  readonly capabilities: Capabilities | undefined;
  readonly kinds: readonly Partial<DomainOptions>[];
  readonly representableOnly: boolean;
  readonly stepTimeoutMs: number;
}

type SelfChecking = { checkInvariants?: () => unknown };

export class RunContext {
  readonly model: ReferenceIommu;
  readonly memory = new SceneMemory();
  readonly trace: TraceEntry[] = [];
  private steps = 0;

  constructor(
    readonly iommu: Iommu,
    private readonly settings: RunSettings,
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
    this.trace.push({ note: 'invalidation-storm' });
    return andThen(
      forEachInOrder(resolve(this.scene(), intent), (call) => this.step(call, false, false)),
      () => this.selfCheck(),
    );
  }

  /** One call, then (when `withProbes`) its invariant probe, then (when `withSelfCheck`) the implementation's self-check. */
  step(call: Call, withProbes: boolean, withSelfCheck = true): Maybe<void> {
    // Out-of-range arguments must be refused; there is nothing to probe or observe about them.
    const before = this.model.argumentsValid(call) ? this.view() : undefined;
    const focus = before && focusOf(before, call);
    this.steps++;
    const bit = bitShapeOf(call);
    const shapes = bit === undefined ? shapesOf(call, before, this.memory.destroyed) : [...shapesOf(call, before, this.memory.destroyed), bit];
    const probe = (): Maybe<void> =>
      withProbes && focus
        ? this.executeProbes(probesAfter(this.view(), call, focus, this.steps, [...this.memory.pastMappings.slice(-2), ...this.memory.recentlyUnmapped.slice(-1)]))
        : undefined;
    return andThen(this.execute(call, false, shapes), () => andThen(probe(), () => (withSelfCheck ? this.selfCheck() : undefined)));
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

  private execute(call: Call, probe: boolean, shapes: readonly string[]): Maybe<void> {
    return andThen(invoke(this.iommu, call, this.settings.stepTimeoutMs), (outcome) => this.judge(call, probe, shapes, outcome));
  }

  /**
   * The probe translations of a step. A pipelined implementation gets them all at once (none
   * depends on another's answer) and they are judged in order as they come, each answer within
   * the step time limit of the one before: the trace is the same as one call at a time.
   */
  private executeProbes(probes: readonly Call[]): Maybe<void> {
    if (!isPipelined(this.iommu)) return forEachInOrder(probes, (p) => this.execute(p, true, []));
    const issued = probes.map((p) => issue(this.iommu, p));
    return forEachInOrder(probes, (p, i) => andThen(awaitOutcome(issued[i]!, this.settings.stepTimeoutMs), (outcome) => this.judge(p, true, [], outcome)));
  }

  /** Records the outcome of a call in the trace; throws the failure if it does not conform. */
  private judge(call: Call, probe: boolean, shapes: readonly string[], outcome: Outcome): void {
    const record = (answer: unknown, judgement: Judgement, dirty?: CallEntry['dirty'], rules?: CallEntry['rules']): void => {
      this.trace.push({ call, answer, threw: judgement === 'threw', probe, judgement, shapes, ...(dirty ? { dirty } : {}), ...(rules ? { rules } : {}) });
    };
    if ('threw' in outcome) {
      record(outcome.threw, 'threw');
      throw new ConformanceFailure('THREW', `${formatCall(call)} threw instead of answering: ${errorText(outcome.threw)}`, this.allowedAnswers(call));
    }
    const answer = outcome.answer;
    let verdict: Verdict;
    try {
      verdict = this.model.check(call, answer);
    } catch (error) {
      // An answer whose reading throws (a getter, a Proxy): the implementation threw, in effect.
      record(error, 'threw');
      throw new ConformanceFailure('THREW', `${formatCall(call)} answered a value that throws when read: ${errorText(error)}`, this.allowedAnswers(call));
    }
    if (!verdict.conforming) {
      record(answer, 'failed');
      // A non-conforming answer changes nothing in the model: what it allows is still as before.
      throw this.failure(call, answer, verdict, this.allowedAnswers(call));
    }
    record(answer, verdict.stale ? 'stale' : 'conforming', verdict.dirty, verdict.rules);
    if ((answer as { ok?: unknown }).ok === true) this.memory.succeeded(call);
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

  private failure(call: Call, answer: unknown, verdict: Extract<Verdict, { conforming: false }>, allowed: readonly unknown[]): ConformanceFailure {
    const { property, why } = classify(this.trace, call, answer, allowed, verdict.dirty);
    return new ConformanceFailure(property, `${property} violated: ${why}.\n  call:     ${formatCall(call)}\n  answered: ${verdict.actual}\n  allowed:  ${verdict.expected}`, allowed);
  }
}

function errorText(error: unknown): string {
  try {
    return error instanceof Error ? String(error.message) : literal(error);
  } catch {
    return literal(error);
  }
}
