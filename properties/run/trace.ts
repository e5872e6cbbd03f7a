// What running records: the trace of a run, one entry per call (commands and probes), per
// self-check, and per generated shape that has no call of its own. Classification, statistics,
// shrinking and reports read it; nothing re-runs a case to learn what happened.
import type { RuleId } from '../../model/rules.ts';
import type { Call } from '../../model/ops.ts';

/** How the model judged an answer. */
export type Judgement = 'conforming' | 'stale' | 'failed' | 'threw';

export interface CallEntry {
  readonly call: Call;
  readonly answer: unknown;
  readonly threw: boolean;
  readonly probe: boolean;
  readonly judgement: Judgement;
  /** The shapes that break IOMMUs which this command has (statistics), seen before it ran. */
  readonly shapes: readonly string[];
  /** A conforming readDirty: how many pages it had to report, and how many it did. */
  readonly dirty?: { readonly required: number; readonly reported: number };
  /** The contract's rules that decided a conforming answer (model/rules.ts). */
  readonly rules?: readonly RuleId[];
}

export interface SelfCheckEntry {
  readonly selfCheck: true;
  readonly answer: unknown;
  readonly threw: boolean;
}

/** A generated shape with no call of its own (an invalidation storm: its calls follow). */
export interface NoteEntry {
  readonly note: string;
}

/** One step of a trace: a call and what the implementation answered, its self-check, or a note. */
export type TraceEntry = CallEntry | SelfCheckEntry | NoteEntry;

export const isCallEntry = (e: TraceEntry): e is CallEntry => 'call' in e;

/** The calls of a trace, in order (self-checks are re-run by the harness after every call). */
export const callsOf = (trace: readonly TraceEntry[]): Call[] => trace.flatMap((e) => (isCallEntry(e) ? [e.call] : []));

export class ConformanceFailure extends Error {
  constructor(
    /** ISOLATION, COHERENCY, PERMISSION, TRANSLATION, DIRTY, RESULT, THREW or SELF-CHECK. */
    readonly property: string,
    message: string,
    /** The conforming answers of the failing call (empty for a self-check). */
    readonly allowed: readonly unknown[],
  ) {
    super(message);
    this.name = 'ConformanceFailure';
  }
}
