// What the CLI shows: progress while running, a summary table at the end.
import cliProgress from 'cli-progress';
import type { Report } from '../index.ts';
import { describeDatabase, fromDatabaseLine } from '../db/describe.ts';
import { formatRuleCoverageLine } from '../report/rules.ts';

export interface Io {
  out: (text: string) => void;
  err: (text: string) => void;
  /** Whether stderr is a terminal (a progress bar) or not (plain lines). */
  isTTY: boolean;
}

export const processIo = (): Io => ({
  out: (t) => void process.stdout.write(t),
  err: (t) => void process.stderr.write(t),
  isTTY: Boolean(process.stderr.isTTY),
});

export interface ProgressView {
  update(p: { runsDone: number; steps: number }): void;
  stop(): void;
}

/** A bar on a terminal; otherwise one plain line every ~2 s. Nothing with `quiet`. */
export function progressView(io: Io, total: { numRuns: number; timeLimitMs?: number }, quiet: boolean): ProgressView {
  if (quiet) return { update() {}, stop() {} };
  const t0 = Date.now();
  const byTime = total.timeLimitMs !== undefined;
  if (io.isTTY) {
    const bar = new cliProgress.SingleBar(
      {
        stream: process.stderr,
        format: byTime
          ? 'checking [{bar}] {elapsed}/{limit}s | runs {runs} | steps {steps}'
          : 'checking [{bar}] {value}/{total} runs | steps {steps} | {elapsed}s',
        hideCursor: true,
        clearOnComplete: true,
      },
      cliProgress.Presets.shades_classic,
    );
    const limit = byTime ? Math.round(total.timeLimitMs! / 1000) : 0;
    bar.start(byTime ? limit : total.numRuns, 0, { runs: 0, steps: 0, elapsed: 0, limit });
    let last = { runsDone: 0, steps: 0 };
    const tick = () => {
      const elapsed = Math.round((Date.now() - t0) / 1000);
      bar.update(byTime ? Math.min(elapsed, limit) : last.runsDone, { runs: last.runsDone, steps: last.steps, elapsed, limit });
    };
    const timer = setInterval(tick, 250);
    timer.unref();
    return {
      update(p) {
        last = p;
      },
      stop() {
        clearInterval(timer);
        tick();
        bar.stop();
      },
    };
  }
  let lastLine = Date.now();
  return {
    update(p) {
      const now = Date.now();
      if (now - lastLine < 2000) return;
      lastLine = now;
      const of = byTime ? `, ${((now - t0) / 1000).toFixed(0)}/${(total.timeLimitMs! / 1000).toFixed(0)} s` : ` of ${total.numRuns}, ${((now - t0) / 1000).toFixed(0)} s`;
      io.err(`iommu-conformance: ${p.runsDone} runs${of}, ${p.steps} steps\n`);
    },
    stop() {},
  };
}

/** A counterexample as check prints it: the failure, the steps, how to get the repro, the replay command. */
export function counterexampleText(report: Report, repro: string, replay: string): string {
  const c = report.counterexample!;
  const fromDatabase = fromDatabaseLine(report.database);
  return [
    c.message,
    '',
    ...(fromDatabase ? [fromDatabase, ''] : []),
    report.statistics['shrink:stopped-at-budget']
      ? `Counterexample (${c.steps.length} steps; shrinking stopped at its time budget, a shorter one may exist: --shrink-time to give it more):`
      : `Minimal counterexample (${c.steps.length} steps):`,
    ...c.steps.map((s, i) => `  ${String(i + 1).padStart(2)}. ${s}`),
    '',
    repro,
    '',
    `Replay: ${replay}`,
    '',
  ].join('\n');
}

const table = (rows: [string, string][]): string => {
  const w = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `  ${k.padEnd(w)}  ${v}`).join('\n');
};

/** The summary table: runs, steps, commands, answers seen, stale answers, result, time. */
export function summary(report: Report, elapsedMs: number, target: string): string {
  const s = report.statistics;
  const group = (prefix: string) =>
    Object.entries(s)
      .filter(([k]) => k.startsWith(prefix))
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([k, v]) => `${k.slice(prefix.length)} ${v}`)
      .join(', ') || '-';
  const result = report.ok ? 'CONFORMING' : report.counterexample ? `COUNTEREXAMPLE (${report.counterexample.property})` : 'ERROR';
  const rows: [string, string][] = [
    ['target', target],
    ['seed', String(report.seed) + (report.path ? ` (path ${report.path})` : '')],
    ['runs', String(s.runs ?? report.numRuns)],
    ['steps', String(s.steps ?? 0) + (s.probes ? ` (+ ${s.probes} probes)` : '')],
    ['commands', group('command:')],
    ['errors seen', group('error:')],
    ['faults seen', group('fault:')],
    ['translations', String(s['translate:ok'] ?? 0) + ' ok'],
    ['stale answers', String(s['stale-allowed'] ?? 0) + ' (allowed, deferred windows)'],
    ['shapes', group('shape:')],
    ['rules', formatRuleCoverageLine(s, 4) + (s.runs ? ' (--rules: the table)' : '')],
    ...(report.database ? [['database', describeDatabase(report.database)] as [string, string]] : []),
    ['result', result],
    ['time', `${(elapsedMs / 1000).toFixed(1)} s`],
  ];
  return 'Summary\n' + table(rows) + '\n';
}
