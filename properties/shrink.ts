// The last shrinking pass, on the flat list of calls of the failing run (probes included, since
// they fill caches): delta debugging removes chunks, then single calls, as long as the same
// property still fails. fast-check has already shrunk the generated intents.
import type { Call, Iommu } from '../model/types.ts';
import { isPromiseLike } from './invoke.ts';
import { ConformanceFailure, RunContext, type RunSettings, type TraceEntry } from './run.ts';

export interface Replay {
  readonly failure?: ConformanceFailure;
  readonly trace: TraceEntry[];
  /** An error of the harness or the factory, not of the implementation. */
  readonly error?: unknown;
}

/** Replays `calls` on a fresh implementation (no probes: they are calls of the trace already). */
export async function replayCalls(factory: () => Iommu | Promise<Iommu>, settings: RunSettings, calls: readonly Call[]): Promise<Replay> {
  let ctx: RunContext | undefined;
  try {
    ctx = new RunContext(await factory(), settings);
    for (const call of calls) {
      const done = ctx.step(call, false);
      if (isPromiseLike(done)) await done;
    }
    return { trace: ctx.trace };
  } catch (error) {
    if (error instanceof ConformanceFailure) return { failure: error, trace: ctx!.trace };
    return { error, trace: ctx?.trace ?? [] };
  }
}

/**
 * The shortest list of calls found that still fails with the same property; `complete` is false
 * when the deadline stopped the search (a shorter one may exist).
 */
export async function shrinkCalls(
  factory: () => Iommu | Promise<Iommu>,
  settings: RunSettings,
  calls: readonly Call[],
  property: string,
  deadline: number,
): Promise<{ calls: Call[]; complete: boolean }> {
  let best = [...calls];
  const stillFails = async (candidate: Call[]): Promise<Call[] | undefined> => {
    const replay = await replayCalls(factory, settings, candidate);
    if (replay.failure?.property !== property) return undefined;
    // The failure may come earlier than the end: keep only what ran.
    return candidate.slice(0, replay.trace.filter((e) => 'call' in e).length);
  };
  // Most probe translations are irrelevant: first try without every translate but the last,
  // then keeping those of the failing page (they may have filled a cache).
  const last = best[best.length - 1];
  // (Calls with out-of-range arguments may carry any type: compare pages of bigints only.)
  const pageOf = (c: Call): bigint | undefined => (c.op === 'translate' && typeof c.iova === 'bigint' ? c.iova / 4096n : undefined);
  const samePage = (c: Call): boolean => pageOf(c) !== undefined && pageOf(c) === pageOf(last);
  for (const keep of [(_c: Call) => false, samePage]) {
    const fewer = await stillFails([...best.slice(0, -1).filter((c) => c.op !== 'translate' || keep(c)), last]);
    if (fewer) {
      best = fewer;
      break;
    }
  }
  for (let chunk = Math.max(1, Math.floor(best.length / 2)); chunk >= 1; chunk = Math.floor(chunk / 2)) {
    // The failing call is last: try removing everything before it, chunk by chunk, from the end.
    for (let start = best.length - 1 - chunk; start >= 0 && Date.now() < deadline; start -= chunk) {
      const shorter = await stillFails([...best.slice(0, start), ...best.slice(start + chunk)]);
      if (shorter) best = shorter;
    }
    if (Date.now() >= deadline) return { calls: best, complete: false };
  }
  return { calls: best, complete: true };
}
