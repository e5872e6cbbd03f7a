// Replaying a flat list of calls on a fresh implementation, as shrinking and `replay FILE` do.
import type { Call } from '../../model/ops.ts';
import type { Iommu } from '../../model/types.ts';
import { isPromiseLike } from './invoke.ts';
import { RunContext, type RunSettings } from './run.ts';
import { ConformanceFailure, type TraceEntry } from './trace.ts';

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
