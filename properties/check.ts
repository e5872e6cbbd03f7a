// checkConformance: runs generated sequences against an implementation and the model, shrinks
// any failure to a minimal sequence, and reports it as steps, a runnable test and replay values.
import fc from 'fast-check';
import { resolveCapabilities, parseDomainOptions, type ResolvedCapabilities } from '../model/validate.ts';
import type { Call, Capabilities, DomainOptions, Iommu } from '../model/types.ts';
import { missingMethods } from '../model/ops.ts';
import { runArbitrary } from './generate/intents.ts';
import { forEachInOrder, isPromiseLike, type Maybe } from './run/invoke.ts';
import { describeSteps, reproTest, type ReproMeta, type ReproTarget } from './report/repro.ts';
import { DEFAULT_DOMAIN_KINDS } from './generate/resolve.ts';
import { DIRTY_DOMAIN_KINDS, NESTED_DOMAIN_KINDS } from './generate/scene.ts';
import { RunContext, type RunSettings } from './run/run.ts';
import { ConformanceFailure, callsOf } from './run/trace.ts';
import { shrinkCalls, type Failing } from './shrink/shrink.ts';
import type { DatabaseOptions, DatabaseSummary, FailureDatabase } from './db/database.ts';
import { countTrace, summarizeBits, summarizeRules, type Statistics } from './verdict/statistics.ts';
import { bitClassSizes } from './generate/resolve-bits.ts';
import { SKIPPED, runsOwned, shardArbitrary, shardProblem, type Shard } from './generate/shard.ts';

export interface Progress {
  readonly runsDone: number;
  readonly numRuns: number;
  readonly steps: number;
}

export interface CheckOptions {
  /** Generated runs (default 200). */
  numRuns?: number;
  seed?: number;
  /** Replays one generated case: the `path` of a report, with its `seed`. */
  path?: string;
  /** Commands per run at most (default 60), besides the few domains created and attached first. */
  maxCommands?: number;
  /** Stops generating new runs after this long; what ran is reported. */
  timeLimitMs?: number;
  /** Which domain kinds to create, as createDomain options (default: a mix of all kinds). */
  domains?: Partial<DomainOptions>[];
  onProgress?: (progress: Progress) => void;
  /** An answer (of an asynchronous implementation) later than this is a failure (default 10 s). */
  stepTimeoutMs?: number;
  /** Out-of-range arguments: all (default), only those the JSON protocol can carry, or none. */
  invalidArguments?: boolean | 'representable';
  /** How the repro test brings the implementation in. */
  repro?: ReproTarget;
  /**
   * Time allowed for shrinking, fast-check's pass and the final pass over the calls (default 6 s,
   * or the environment's IOMMU_CONFORMANCE_SHRINK_TIME_MS: mutation runs set it to 1).
   */
  shrinkTimeMs?: number;
  /**
   * The failure database (properties/db/): a directory, or its options (give `target`, a JSON
   * description of the implementation, to keep several apart). Saved counterexamples of the
   * target are replayed first, those passing now deleted, a new counterexample saved. Default
   * false: called from code, checkConformance reads and writes nothing (the CLI and
   * describeConformance default to `.iommu-conformance/`).
   */
  database?: string | false | DatabaseOptions;
  /**
   * Only this share of the campaign (generate/shard.ts): run r of the `numRuns` (or of those the
   * time allows) runs when r mod count = index - 1, generated exactly as in the whole campaign.
   */
  shard?: Shard;
}

export interface Counterexample {
  /** The property broken: ISOLATION, COHERENCY, PERMISSION, TRANSLATION, RESULT, THREW, SELF-CHECK. */
  readonly property: string;
  readonly message: string;
  readonly steps: string[];
  readonly repro: string;
  readonly calls: Call[];
}

export interface Report {
  ok: boolean;
  numRuns: number;
  seed: number;
  path?: string;
  counterexample?: Counterexample;
  error?: string;
  statistics: Statistics;
  /** What the failure database did (with the `database` option). */
  database?: DatabaseSummary;
  /** The bits each bit class reached (statistics `bits:*` count them): reports merge by their union. */
  bitsReached?: Record<string, number[]>;
}

type Factory = () => Iommu | Promise<Iommu>;

/** 6 s, unless IOMMU_CONFORMANCE_SHRINK_TIME_MS says otherwise (a mutant needs no minimal counterexample). */
function defaultShrinkTimeMs(): number {
  const fromEnvironment = Number(globalThis.process?.env.IOMMU_CONFORMANCE_SHRINK_TIME_MS);
  return Number.isInteger(fromEnvironment) && fromEnvironment > 0 ? fromEnvironment : 6_000;
}


/** The first problem with the options, if any. */
function optionsProblem(o: CheckOptions): string | undefined {
  const positive = (x: unknown): boolean => x === undefined || (Number.isInteger(x) && (x as number) > 0);
  if (!positive(o.numRuns)) return 'numRuns must be a positive integer';
  if (!(o.maxCommands === undefined || (Number.isInteger(o.maxCommands) && o.maxCommands >= 0))) return 'maxCommands must be a non-negative integer';
  if (!(o.seed === undefined || Number.isInteger(o.seed))) return 'seed must be an integer';
  if (!(o.path === undefined || /^\d+(:\d+)*$/.test(o.path))) return `path must look like "3:1:0", not ${JSON.stringify(o.path)}`;
  if (!positive(o.timeLimitMs) || !positive(o.stepTimeoutMs) || !positive(o.shrinkTimeMs)) return 'time limits must be positive integers (ms)';
  if (o.domains !== undefined && (!Array.isArray(o.domains) || o.domains.length === 0)) return 'domains must be a non-empty array of createDomain options';
  if (o.shard !== undefined) {
    const problem = shardProblem(o.shard);
    if (problem) return problem;
    if (o.path !== undefined) return 'path replays one run of the whole campaign: give no shard with it';
  }
  return undefined;
}

/**
 * The default mix of domain kinds that these capabilities allow; with `nesting`, nested domains
 * too (a nested kind is checked with a placeholder parent: the generator picks the real one).
 */
export function defaultKinds(caps: ResolvedCapabilities): Partial<DomainOptions>[] {
  const allowed = (k: Partial<DomainOptions>): boolean => parseDomainOptions(k.type === 'nested' ? { ...k, parent: 0 } : k, caps) !== undefined;
  return [...DEFAULT_DOMAIN_KINDS, ...(caps.nesting ? NESTED_DOMAIN_KINDS : []), ...(caps.dirtyTracking ? DIRTY_DOMAIN_KINDS : [])].filter(allowed);
}

/** The implementation the factory gives, checked to have every method of the interface. */
async function instance(factory: Factory): Promise<Iommu> {
  const iommu: unknown = await factory();
  const missing = missingMethods(iommu);
  if (missing.length > 0) throw new Error(`the factory did not give an Iommu: missing ${missing.join(', ')}`);
  return iommu as Iommu;
}

export async function checkConformance(factory: Factory, options: CheckOptions = {}): Promise<Report> {
  const seed = options.seed ?? (Date.now() ^ (Math.random() * 0x7fffffff)) | 0;
  const statistics: Statistics = {};
  const numRuns = options.numRuns ?? 200;
  const failed = (error: string): Report => ({ ok: false, numRuns: 0, seed, error, statistics });
  const problem = optionsProblem(options);
  if (problem) return failed(`bad options: ${problem}`);

  let capabilities: Capabilities | undefined;
  try {
    capabilities = (await instance(factory)).capabilities;
    resolveCapabilities(capabilities);
  } catch (error) {
    return failed(error instanceof Error ? error.message : String(error));
  }
  const caps = resolveCapabilities(capabilities);
  const kinds = options.domains ?? defaultKinds(caps);
  if (!caps.nesting && kinds.some((k) => k.type === 'nested'))
    return failed('bad options: nested domains need an implementation that declares capabilities.nesting');
  const settings: RunSettings = {
    capabilities,
    kinds,
    representableOnly: options.invalidArguments === 'representable',
    stepTimeoutMs: options.stepTimeoutMs ?? 10_000,
  };

  const db = options.database ? await openDatabase(options.database) : undefined;
  const shrinkTimeMs = options.shrinkTimeMs ?? defaultShrinkTimeMs();
  const meta: ReproMeta = { seed, ...options.repro };
  if (db && options.path === undefined && (typeof options.database !== 'object' || options.database.replay !== false)) {
    const replayStarted = Date.now();
    const { replaySaved } = await import('./db/replay.ts');
    const saved = await replaySaved(db, factory, settings);
    statistics['time:db-ms'] = Date.now() - replayStarted;
    if (saved) {
      db.summary.from = db.pathOf(saved.entry.file);
      const report = await failureReport(factory, settings, saved.failing, { ok: false, numRuns: 0, seed, statistics }, meta, Date.now() + shrinkTimeMs / 2);
      return withDatabase(report, db, capabilities, options, saved.entry.file);
    }
  }

  let runsDone = 0;
  let failing = false;
  /** The last failing run fast-check executed: its final counterexample (no need to run it again). */
  let lastFailing: Failing | undefined;
  const started = Date.now();
  let foundAt = 0;
  let budgetSpent = false;
  const arbitrary = runArbitrary(options.maxCommands ?? 60, options.invalidArguments !== false, caps);
  const ownRuns = options.shard ? runsOwned(options.shard, numRuns) : numRuns;
  const property = fc.asyncProperty(options.shard ? shardArbitrary(arbitrary, options.shard) : arbitrary, async (intents) => {
    if (intents === SKIPPED) return; // another shard's run
    // fast-check has no time budget for shrinking: past ours, every candidate passes unrun, so
    // that it stops at the smallest failing run found so far.
    if (failing && Date.now() - foundAt > shrinkTimeMs / 2) {
      budgetSpent = true;
      return;
    }
    const counted = !failing; // statistics count only the runs before the first failure
    if (counted) runsDone++;
    const ctx = new RunContext(await instance(factory), settings);
    try {
      const done: Maybe<void> = forEachInOrder(intents, (intent) => ctx.runIntent(intent));
      if (isPromiseLike(done)) await done;
    } catch (error) {
      if (!failing) foundAt = Date.now();
      failing = true;
      if (error instanceof ConformanceFailure) lastFailing = { trace: ctx.trace, failure: error };
      throw error;
    } finally {
      if (counted) {
        countTrace(statistics, ctx.trace);
        if (!failing) options.onProgress?.({ runsDone, numRuns: ownRuns, steps: statistics.steps ?? 0 });
      }
    }
  });
  const details = await fc.check(property, {
    numRuns,
    seed,
    path: options.path,
    interruptAfterTimeLimit: options.timeLimitMs,
    markInterruptAsFailure: false,
  });
  statistics.runs = runsDone;
  const bitsReached = summarizeBits(statistics, bitClassSizes(caps));
  summarizeRules(statistics, caps);
  statistics['time:search-ms'] = (failing ? foundAt : Date.now()) - started;
  if (!details.failed) return withDatabase({ ok: true, numRuns: runsDone, seed, statistics, bitsReached }, db, capabilities, options);

  const path = details.counterexamplePath ?? undefined;
  const report = { ok: false, numRuns: runsDone, seed, path, statistics, bitsReached };
  if (!(details.errorInstance instanceof ConformanceFailure) || lastFailing === undefined) {
    const cause = details.errorInstance instanceof Error ? details.errorInstance.message : String(details.errorInstance);
    return withDatabase({ ...report, error: `the run failed outside the contract checks: ${cause}` }, db, capabilities, options);
  }
  if (budgetSpent) statistics['shrink:stopped-at-budget'] = 1;
  const shrunk = await failureReport(factory, settings, lastFailing, report, { ...meta, path }, Date.now() + shrinkTimeMs / 2, foundAt);
  return withDatabase(shrunk, db, capabilities, options);
}

/** The report of a failing run, shrunk: its counterexample, or the harness's error while shrinking. */
async function failureReport(
  factory: Factory,
  settings: RunSettings,
  failing: Failing,
  report: Report,
  meta: ReproMeta,
  deadline: number,
  foundAt = Date.now(),
): Promise<Report> {
  const { statistics } = report;
  let shrunk: Failing & { complete: boolean };
  try {
    shrunk = await shrinkCalls(factory, settings, failing, deadline);
  } catch (error) {
    // A defect of the harness itself: say what was found, and how to replay it.
    const cause = error instanceof Error ? error.message : String(error);
    return { ...report, error: `${failing.failure.message}
(the harness failed while shrinking this failure: ${cause}; replay with seed ${meta.seed}, path '${meta.path}')` };
  }
  statistics['time:shrink-ms'] = Date.now() - foundAt;
  // The counterexample may not be minimal: shrinking stopped at its time budget.
  if (!shrunk.complete) statistics['shrink:stopped-at-budget'] = 1;
  return { ...report, counterexample: counterexampleOf(shrunk, meta) };
}

/** The database of the `database` option (loaded only when asked for: it needs node:fs). */
async function openDatabase(option: string | DatabaseOptions): Promise<FailureDatabase> {
  const { FailureDatabase } = await import('./db/database.ts');
  return FailureDatabase.open(typeof option === 'string' ? { dir: option } : option);
}

/**
 * The report with what the database did: its counterexample saved (replacing the entry it was
 * replayed from, `replacing`, when shrinking changed the calls) and the db:* statistics.
 */
async function withDatabase(
  report: Report,
  db: FailureDatabase | undefined,
  capabilities: Capabilities | undefined,
  options: CheckOptions,
  replacing?: string,
): Promise<Report> {
  if (!db) return report;
  const c = report.counterexample;
  if (c) {
    const file = await db.save({
      capabilities,
      domains: options.domains,
      property: c.property,
      message: c.message,
      steps: c.steps,
      calls: c.calls,
      seed: replacing === undefined ? report.seed : undefined,
      path: report.path,
    });
    if (file !== undefined) db.summary.saved = db.pathOf(file);
    if (file !== undefined && replacing !== undefined && file !== replacing) db.drop(replacing);
  }
  const { countDatabase } = await import('./db/replay.ts');
  countDatabase(report.statistics, db);
  return { ...report, database: db.summary };
}

/** The report's counterexample: the failure, its steps, the repro test and the calls. */
function counterexampleOf({ trace, failure }: Failing, meta: ReproMeta): Counterexample {
  return {
    property: failure.property,
    message: failure.message,
    steps: describeSteps(trace),
    repro: reproTest(trace, failure, meta),
    calls: callsOf(trace),
  };
}
