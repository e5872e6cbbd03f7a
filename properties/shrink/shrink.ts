// The last shrinking pass, on the flat list of calls of the failing run (probes included, since
// they fill caches): delta debugging removes chunks, then single calls, as long as the same
// property still fails. fast-check has already shrunk the generated intents.
import type { Call } from '../../model/ops.ts';
import type { Iommu } from '../../model/types.ts';
import { replayCalls, type Replay } from '../run/replay.ts';
import type { RunSettings } from '../run/run.ts';
import { callsOf, type ConformanceFailure, type TraceEntry } from '../run/trace.ts';

/** A failing run: its trace (ending at the failure) and the failure. */
export interface Failing {
  readonly trace: TraceEntry[];
  readonly failure: ConformanceFailure;
}

/**
 * The shortest failing run found that fails with the same property, with its trace (from the
 * replay that showed it fails: nothing is run again); `complete` is false when the deadline
 * stopped the search (a shorter one may exist).
 */
export async function shrinkCalls(
  factory: () => Iommu | Promise<Iommu>,
  settings: RunSettings,
  original: Failing,
  deadline: number,
): Promise<Failing & { complete: boolean }> {
  const property = original.failure.property;
  let best: Failing = original;
  let calls = callsOf(original.trace);
  /** The candidate's failing run (cut to what ran: the failure may come earlier), if it still fails so. */
  const stillFails = async (candidate: Call[]): Promise<boolean> => {
    const replay: Replay = await replayCalls(factory, settings, candidate);
    if (replay.failure?.property !== property) return false;
    best = { trace: replay.trace, failure: replay.failure };
    calls = callsOf(replay.trace);
    return true;
  };
  // Most probe translations are irrelevant: first try without every translate but the last,
  // then keeping those of the failing page (they may have filled a cache).
  const last = calls[calls.length - 1];
  // (Calls with out-of-range arguments may carry any type: compare pages of bigints only.)
  const pageOf = (c: Call): bigint | undefined => (c.op === 'translate' && typeof c.iova === 'bigint' ? c.iova / 4096n : undefined);
  const samePage = (c: Call): boolean => pageOf(c) !== undefined && pageOf(c) === pageOf(last);
  for (const keep of [(_c: Call) => false, samePage]) {
    if (await stillFails([...calls.slice(0, -1).filter((c) => c.op !== 'translate' || keep(c)), last])) break;
  }
  for (let chunk = Math.max(1, Math.floor(calls.length / 2)); chunk >= 1; chunk = Math.floor(chunk / 2)) {
    // The failing call is last: try removing everything before it, chunk by chunk, from the end.
    for (let start = calls.length - 1 - chunk; start >= 0 && Date.now() < deadline; start -= chunk) {
      await stillFails([...calls.slice(0, start), ...calls.slice(start + chunk)]);
    }
    if (Date.now() >= deadline) return { ...best, complete: false };
  }
  return { ...best, complete: true };
}
