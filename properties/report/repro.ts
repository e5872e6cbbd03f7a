// A counterexample as a runnable vitest test: imports, factory, the calls with the answers the
// implementation gave, and the failing expectation with every conforming answer.
import { formatCall, literal } from './format.ts';
import { isCallEntry, type CallEntry, type ConformanceFailure, type SelfCheckEntry, type TraceEntry } from '../run/trace.ts';

export interface ReproTarget {
  /** Import lines that bring the implementation into scope. */
  readonly imports?: string;
  /** An expression that builds a fresh implementation (may be awaited). */
  readonly create?: string;
}

export interface ReproMeta extends ReproTarget {
  readonly seed: number;
  readonly path?: string;
}

const DEFAULT_IMPORTS = "import { createIommu } from '../my-iommu.ts'; // your factory: edit this line";
const DEFAULT_CREATE = 'createIommu()';

/** The steps worth showing: every call, and a self-check only where it failed (the last step). */
const shown = (trace: readonly TraceEntry[]): (CallEntry | SelfCheckEntry)[] =>
  trace.filter((e, i): e is CallEntry | SelfCheckEntry => isCallEntry(e) || (i === trace.length - 1 && 'selfCheck' in e));

/** One line per step, with what the implementation answered. */
export function describeSteps(trace: readonly TraceEntry[]): string[] {
  return shown(trace).map((entry) => {
    const what = 'call' in entry ? formatCall(entry.call) : 'iommu.checkInvariants()';
    return `${what} -> ${entry.threw ? 'threw ' : ''}${literal(entry.answer)}`;
  });
}

export function reproTest(trace: readonly TraceEntry[], failure: ConformanceFailure, meta: ReproMeta): string {
  const steps = shown(trace);
  const lines = steps.map((entry, i) => {
    const last = i === steps.length - 1;
    if (!('call' in entry)) return `  expect(await iommu.checkInvariants()).toEqual([]);`;
    const call = `await ${formatCall(entry.call)}`;
    return last ? `  expect(${literal(failure.allowed)}).toContainEqual(${call});` : `  expect(${call}).toEqual(${literal(entry.answer)});`;
  });
  const where = meta.path === undefined ? `seed ${meta.seed}` : `seed ${meta.seed}, path '${meta.path}'`;
  return [
    `// Counterexample found by iommu-conformance (${where}).`,
    ...failure.message.split('\n').map((l) => `// ${l}`),
    `import { expect, test } from 'vitest';`,
    meta.imports ?? DEFAULT_IMPORTS,
    ``,
    `test('iommu-conformance counterexample: ${failure.property}', async () => {`,
    `  const iommu = await ${meta.create ?? DEFAULT_CREATE};`,
    ...lines,
    `});`,
    ``,
  ].join('\n');
}

