// The harness's entry points (CONTRACT.md, "Harness entry points").
export { checkConformance } from './check.ts';
export type { CheckOptions, Counterexample, Progress, Report } from './check.ts';
export { formatReport } from './report.ts';
export { formatCall, literal } from './format.ts';
export { ConformanceFailure } from './run.ts';
export type { Statistics, TraceEntry } from './run.ts';
export { DEFAULT_DOMAIN_KINDS } from './resolve.ts';
export { SubprocessIommu, AdapterError } from './subprocess.ts';
export { encodeRequest, decodeResponse, decodeCapabilities } from './protocol.ts';
