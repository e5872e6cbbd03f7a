// The harness's entry points (CONTRACT.md, "Harness entry points").
export { checkConformance } from './check.ts';
export type { CheckOptions, Counterexample, Progress, Report } from './check.ts';
export { formatReport } from './report/report.ts';
export { formatCall, literal } from './report/format.ts';
export { ConformanceFailure } from './run/trace.ts';
export type { TraceEntry } from './run/trace.ts';
export type { Statistics } from './verdict/statistics.ts';
export { DEFAULT_DOMAIN_KINDS } from './generate/resolve.ts';
export { SubprocessIommu, AdapterError } from './adapters/subprocess.ts';
export { encodeRequest, decodeResponse, decodeCapabilities } from './adapters/protocol.ts';
export { ruleCoverage, ruleCounts, formatRuleTable } from './report/rules.ts';
export type { RuleCoverage, RuleCount } from './report/rules.ts';
export { RULES, RULE_IDS } from '../model/rules.ts';
export type { RuleId } from '../model/rules.ts';
