// `iommu-conformance merge report-*.json`: the --json reports of every shard of one campaign
// (check --shard K/N --json) as one verdict, one statistics table and the first counterexample by
// run order. Exit codes as check's: 0 conforming, 1 counterexample, 2 error or unusable reports.
import { readFileSync } from 'node:fs';
import { fromTraceJson, toTraceJson } from '../adapters/protocol.ts';
import { shardProblem } from '../generate/shard.ts';
import { failingRun, mergeReports } from '../report/merge.ts';
import { counterexampleText, summary, type Io } from './output.ts';
import type { CampaignRecord, CampaignReport } from './shard.ts';
import { describeTarget, UsageError } from './target.ts';

const isObject = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);

/** A value as JSON with its keys sorted, to compare records whatever their key order. */
const canonical = (x: unknown): string =>
  JSON.stringify(x, (_, v: unknown) => (isObject(v) ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => a.localeCompare(b))) : v));

/** One report as check --json wrote it; UsageError naming the file when it is not one. */
function readReport(file: string): CampaignReport {
  let value: unknown;
  try {
    value = fromTraceJson(JSON.parse(readFileSync(file, 'utf8')));
  } catch (e) {
    throw new UsageError(`merge: cannot read ${file}: ${(e as Error).message.split('\n')[0]}`);
  }
  const r = value as Partial<CampaignReport>;
  const shard = r.shard;
  if (!isObject(value) || typeof r.ok !== 'boolean' || !isObject(r.statistics) || !isObject(r.campaign) || !isObject(shard))
    throw new UsageError(`merge: ${file} is not a report of check --json (no verdict, statistics, campaign or shard)`);
  const problem = shardProblem(shard);
  if (problem !== undefined) throw new UsageError(`merge: ${file}: bad shard: ${problem}`);
  return r as CampaignReport;
}

/** The first option in which two campaigns differ, as `name: this, not that`. */
function difference(a: CampaignRecord, b: CampaignRecord): string {
  const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])] as (keyof CampaignRecord)[];
  const key = keys.find((k) => canonical(a[k]) !== canonical(b[k]))!;
  const show = (x: unknown) => (x === undefined ? 'none' : key === 'target' ? describeTarget(x as CampaignRecord['target']) : JSON.stringify(x));
  return `${key} ${show(b[key])}, not ${show(a[key])}`;
}

/** The reports, checked to be every shard of one campaign, each once; in shard order. */
function shardsOf(files: readonly string[]): { file: string; report: CampaignReport }[] {
  const parts = files.map((file) => ({ file, report: readReport(file) }));
  const [first] = parts;
  if (!first) throw new UsageError('merge: give the reports of every shard');
  const count = first.report.shard.count;
  const byIndex = new Map<number, string>();
  for (const { file, report } of parts) {
    if (canonical(report.campaign) !== canonical(first.report.campaign))
      throw new UsageError(`merge: ${file} is from another campaign than ${first.file} (${difference(first.report.campaign, report.campaign)})`);
    if (report.shard.count !== count) throw new UsageError(`merge: ${file} is shard ${report.shard.index}/${report.shard.count}, but ${first.file} is one of ${count} shards`);
    const twice = byIndex.get(report.shard.index);
    if (twice !== undefined) throw new UsageError(`merge: shard ${report.shard.index}/${count} is given twice (${twice} and ${file})`);
    byIndex.set(report.shard.index, file);
  }
  const missing = Array.from({ length: count }, (_, i) => i + 1).filter((k) => !byIndex.has(k));
  if (missing.length > 0) throw new UsageError(`merge: shard${missing.length > 1 ? 's' : ''} ${missing.map((k) => `${k}/${count}`).join(', ')} missing: give the report of every shard`);
  return parts.sort((a, b) => a.report.shard.index - b.report.shard.index);
}

export function merge(files: readonly string[], flags: { json?: boolean }, io: Io): number {
  const parts = shardsOf(files);
  const { campaign } = parts[0]!.report;
  const count = parts.length;
  // An error names its shard: the merged report keeps the first.
  const reports = parts.map(({ report }) =>
    report.error === undefined ? report : { ...report, error: `shard ${report.shard.index}/${count}: ${report.error}` },
  );
  const merged = mergeReports(reports);
  const winner = merged.counterexample && reports.find((r) => r.counterexample === merged.counterexample);
  const elapsedMs = Math.max(...reports.map((r) => (Number.isFinite(r.elapsedMs) ? r.elapsedMs : 0)));

  if (flags.json) {
    const out = { ...merged, campaign, shards: count, elapsedMs, ...(winner ? { foundBy: winner.shard, replay: winner.replay } : {}) };
    io.out(JSON.stringify(toTraceJson(out), null, 2) + '\n');
  } else {
    if (merged.counterexample && winner) {
      io.out(`Found by shard ${winner.shard.index}/${count}, in run ${failingRun(winner)} of the campaign:\n\n`);
      io.out(counterexampleText(merged, `Repro test:\n${merged.counterexample.repro}`, winner.replay ?? '(not recorded in the report)'));
    } else if (merged.error !== undefined) io.out(`error: ${merged.error}\n\n`);
    io.out(`Merged ${count} shard${count > 1 ? 's' : ''}: runs ${reports.map((r) => r.numRuns).join(' + ')} = ${merged.numRuns}\n`);
    io.out(summary(merged, elapsedMs, describeTarget(campaign.target)));
  }
  if (merged.ok) return 0;
  if (merged.counterexample) return 1;
  if (!flags.json) io.err(`iommu-conformance: ${merged.error?.split('\n')[0]}\n`);
  return 2;
}
