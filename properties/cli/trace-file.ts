// counterexample.json: what `check --out` writes and `replay FILE` reads (a failure database entry
// is one too). Reading one checks everything replay relies on, so that a corrupt, foreign or future
// file is one clear line (a UsageError: exit 2), never a TypeError from deep inside the replay.
import { readFileSync } from 'node:fs';
import { isOp, paramsOf, type Call } from '../../model/ops.ts';
import type { DomainOptions } from '../../model/types.ts';
import { fromTraceJson } from '../adapters/protocol.ts';
import { UsageError, type TargetSpec } from './target.ts';

/** The format version this code writes and the newest it reads. */
export const TRACE_VERSION = 1;

export interface TraceFile {
  version: number;
  target: TargetSpec;
  seed: number;
  path?: string;
  maxCommands?: number;
  domains?: Partial<DomainOptions>[];
  property: string;
  message: string;
  steps: string[];
  calls: Call[];
}

const isObject = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);
const optional = (x: unknown, type: 'string' | 'number'): boolean => x === undefined || typeof x === type;

/** What is wrong with a target spec, if anything. */
function targetProblem(t: unknown): string | undefined {
  if (!isObject(t)) return 'its target is not an object';
  switch (t.kind) {
    case 'builtin':
      return t.iotlb === undefined || t.iotlb === 'inf' || (Number.isInteger(t.iotlb) && (t.iotlb as number) >= 0) ? undefined : 'its builtin target has a bad iotlb';
    case 'impl':
      return typeof t.module === 'string' && t.module !== '' && optional(t.export, 'string') ? undefined : 'its impl target has no module';
    case 'exec':
      return typeof t.command === 'string' && t.command.trim() !== '' && optional(t.stepTimeoutMs, 'number') && optional(t.cwd, 'string')
        ? undefined
        : 'its exec target has no command';
    default:
      return `its target kind ${JSON.stringify(t.kind)} is none of builtin, impl, exec`;
  }
}

/** What is wrong with one call, if anything: a known op with each parameter it needs, nothing else. */
export function callProblem(c: unknown): string | undefined {
  if (!isObject(c)) return 'not an object';
  if (!isOp(c.op)) return `unknown op ${JSON.stringify(c.op)}`;
  const params = paramsOf(c.op);
  const missing = params.filter((p) => !p.optional && !(p.name in c)).map((p) => p.name);
  if (missing.length > 0) return `${c.op} without ${missing.join(', ')}`;
  const extra = Object.keys(c).filter((k) => k !== 'op' && !params.some((p) => p.name === k));
  return extra.length > 0 ? `${c.op} with unknown ${extra.join(', ')}` : undefined;
}

/** What is wrong with the file's content, if anything. */
function traceProblem(t: unknown): string | undefined {
  if (!isObject(t)) return 'it is not a JSON object';
  if (t.version === undefined) return 'it has no format version';
  if (!Number.isInteger(t.version) || (t.version as number) < 1) return `its format version ${JSON.stringify(t.version)} is not a positive integer`;
  if ((t.version as number) > TRACE_VERSION)
    return `its format version is ${t.version as number}, newer than this iommu-conformance reads (${TRACE_VERSION}): upgrade iommu-conformance`;
  if (!Array.isArray(t.calls)) return 'it has no calls';
  const target = targetProblem(t.target);
  if (target) return target;
  for (const [i, c] of t.calls.entries()) {
    const problem = callProblem(c);
    if (problem) return `call ${i + 1}: ${problem}`;
  }
  if (t.domains !== undefined && !(Array.isArray(t.domains) && t.domains.length > 0 && t.domains.every(isObject)))
    return 'its domains are not a list of domain options';
  if (!optional(t.property, 'string') || !optional(t.path, 'string')) return 'its property or path is not a string';
  return undefined;
}

/** Reads and checks a counterexample.json; throws a one-line UsageError naming the file. */
export function readTraceFile(file: string): TraceFile {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new UsageError(`replay: cannot read ${file}: ${oneLine((e as Error).message)}`);
  }
  let value: unknown;
  try {
    value = fromTraceJson(JSON.parse(text));
  } catch (e) {
    throw new UsageError(`replay: ${file} is not a counterexample.json (not valid JSON: ${oneLine((e as Error).message)})`);
  }
  const problem = traceProblem(value);
  if (problem) throw new UsageError(`replay: ${file} is not a counterexample.json this version can replay: ${problem}`);
  return value as TraceFile;
}

/** A message on one line (V8's JSON errors quote the text around the error, newlines included). */
const oneLine = (s: string): string => s.replace(/\s*\n\s*/g, ' ').slice(0, 300);
