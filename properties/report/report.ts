// A report as text for people: the verdict, the broken property, the steps and how to replay.
import type { Report } from '../check.ts';
import { fromDatabaseLine, shortPath } from '../db/describe.ts';

export function formatReport(report: Report): string {
  const replay = `seed ${report.seed}${report.path === undefined ? '' : `, path '${report.path}'`}`;
  if (report.ok) return `conforming: ${report.numRuns} runs, ${report.statistics.steps ?? 0} steps (${replay})`;
  if (report.error !== undefined) return `error: ${report.error}`;
  const c = report.counterexample!;
  const fromDatabase = fromDatabaseLine(report.database);
  return [
    c.message,
    '',
    ...(fromDatabase ? [fromDatabase, ''] : []),
    report.statistics['shrink:stopped-at-budget']
      ? `Counterexample (${c.steps.length} steps; shrinking stopped at its time budget, a shorter one may exist: give it more with shrinkTimeMs / --shrink-time):`
      : `Minimal counterexample (${c.steps.length} steps):`,
    ...c.steps.map((s, i) => `  ${String(i + 1).padStart(2)}. ${s}`),
    '',
    fromDatabase
      ? `Replay: the calls are in ${shortPath(report.database!.saved ?? report.database!.from!)} (replayed first on the next run).`
      : `Replay with { seed: ${report.seed}, path: '${report.path}' }.`,
    '',
    'As a runnable test:',
    c.repro,
  ].join('\n');
}
