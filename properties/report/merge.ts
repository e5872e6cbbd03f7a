// Several reports of one campaign (its shards, or its worker threads) as one report: one verdict,
// the statistics summed (verdict/statistics.ts says how) and the counterexample of the earliest
// failing run.
import type { Report } from '../check.ts';
import { mergeStatistics } from '../verdict/statistics.ts';

/**
 * The run (in the campaign's run order) whose failure gave the report's counterexample: the first
 * segment of its fast-check path; -1 for one replayed from the failure database (before any run).
 */
export const failingRun = (report: Report): number => (report.path === undefined ? -1 : Number(report.path.split(':')[0]));

/**
 * The reports as one: conforming when every one is; else the counterexample of the earliest
 * failing run (ties: the first report), else the first error. Statistics count every run each
 * report executed (past a failure too, for reports that found none).
 */
export function mergeReports(reports: readonly Report[]): Report {
  if (reports.length === 0) throw new Error('mergeReports: no report');
  const failing = reports.filter((r) => r.counterexample !== undefined);
  const winner = failing.reduce<Report | undefined>((best, r) => (best === undefined || failingRun(r) < failingRun(best) ? r : best), undefined);
  const { statistics, bitsReached } = mergeStatistics(reports);
  // Whether shrinking was cut short is said of the counterexample shown.
  delete statistics['shrink:stopped-at-budget'];
  if (winner?.statistics['shrink:stopped-at-budget']) statistics['shrink:stopped-at-budget'] = 1;
  const merged: Report = {
    ok: reports.every((r) => r.ok),
    numRuns: reports.reduce((sum, r) => sum + r.numRuns, 0),
    seed: reports[0]!.seed,
    statistics,
    bitsReached,
  };
  if (winner) return { ...merged, path: winner.path, counterexample: winner.counterexample, database: winner.database };
  const error = reports.find((r) => r.error !== undefined)?.error;
  return { ...merged, ...(error !== undefined ? { error } : {}), database: reports.find((r) => r.database)?.database };
}
