// Replaying a call sequence on an implementation with every answer judged by the reference
// model (ReferenceIommu.check), as the catalogues' self-checks do.
import { ReferenceIommu } from '../../model/index.ts';
import { dispatch } from '../../model/ops.ts';
import type { Call, Capabilities, Iommu } from '../../model/types.ts';
import { show } from './text.ts';

/** The first non-conforming step of a replay: the call, what the model allows, what came back. */
export interface Failure {
  readonly step: number;
  readonly call: Call;
  readonly expected: string;
  readonly actual: string;
}

/** One line for an assertion message. */
export const describeFailure = (f: Failure): string => `step ${f.step} ${show(f.call)}: expected ${f.expected}, got ${f.actual}`;

/** Replays `calls` on `impl` (synchronous answers), judging each; the first failure, if any. */
export function firstFailure(impl: Iommu, calls: readonly Call[], capabilities?: Capabilities): Failure | undefined {
  const ref = new ReferenceIommu(capabilities);
  for (const [step, call] of calls.entries()) {
    const verdict = ref.check(call, dispatch(impl, call));
    if (!verdict.conforming) return { step, call, expected: verdict.expected, actual: verdict.actual };
  }
  return undefined;
}

/** The same for an implementation whose answers may be promises; a throw is a failure too. */
export async function firstFailureAsync(impl: Iommu, calls: readonly Call[], capabilities?: Capabilities): Promise<Failure | undefined> {
  const ref = new ReferenceIommu(capabilities);
  for (const [step, call] of calls.entries()) {
    let answer: unknown;
    try {
      answer = await dispatch(impl, call);
    } catch (e) {
      return { step, call, expected: 'an answer', actual: `threw ${String(e)}` };
    }
    const verdict = ref.check(call, answer);
    if (!verdict.conforming) return { step, call, expected: verdict.expected, actual: verdict.actual };
  }
  return undefined;
}
