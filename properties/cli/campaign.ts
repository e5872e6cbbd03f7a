// A campaign: checkConformance on one target, in this thread or split over worker threads. The
// workers split the campaign as shards do (generate/shard.ts): same seed, worker i of W runs every
// W-th run of the campaign's (or its shard's) run order, so the runs executed are those of one
// thread; the first failure found wins.
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { DomainOptions } from '../../model/types.ts';
import { checkConformance, type Report } from '../index.ts';
import type { DatabaseOptions } from '../db/database.ts';
import { mergeReports } from '../report/merge.ts';
import { runsOwned, workerShard, WHOLE, type Shard } from '../generate/shard.ts';
import { openTarget, UsageError, type TargetSpec } from './target.ts';

export interface CampaignOptions {
  numRuns: number;
  seed: number;
  path?: string;
  maxCommands?: number;
  timeLimitMs?: number;
  shrinkTimeMs?: number;
  domains?: Partial<DomainOptions>[];
  /** Worker threads (1: run in this thread). */
  workers: number;
  /** Only this share of the campaign (`check --shard K/N`). */
  shard?: Shard;
  /** Where the repro test will be written (for its import paths). */
  reproDir: string;
  /** The failure database (plain data: it goes to the workers; only the first replays it). */
  database?: Omit<DatabaseOptions, 'onMessage'>;
  onProgress?: (p: { runsDone: number; steps: number }) => void;
}

/** Runs the campaign; rejects with UsageError when the target cannot be used. */
export async function runCampaign(spec: TargetSpec, options: CampaignOptions): Promise<Report> {
  if (options.workers <= 1 || options.path !== undefined) return runHere(spec, options);
  return runInWorkers(spec, options);
}

/** One campaign in this thread. `stop` (optional) lets a worker close the target early. */
export async function runHere(
  spec: TargetSpec,
  options: Omit<CampaignOptions, 'workers'>,
  onOpen?: (close: () => Promise<void>) => void,
): Promise<Report> {
  const target = await openTarget(spec);
  onOpen?.(() => target.close());
  try {
    return await checkConformance(target.factory, {
      numRuns: options.numRuns,
      seed: options.seed,
      path: options.path,
      maxCommands: options.maxCommands,
      timeLimitMs: options.timeLimitMs,
      shrinkTimeMs: options.shrinkTimeMs,
      domains: options.domains,
      invalidArguments: target.representableOnly ? 'representable' : true,
      // A subprocess has its own step time limit: let it report a hang first, with its stderr.
      stepTimeoutMs: spec.kind === 'exec' ? (spec.stepTimeoutMs ?? 5000) + 5000 : undefined,
      repro: target.repro(options.reproDir),
      database: options.database,
      shard: options.shard,
      onProgress: options.onProgress && ((p) => options.onProgress!({ runsDone: p.runsDone, steps: p.steps })),
    });
  } finally {
    await target.close();
  }
}

export type WorkerRequest = { spec: TargetSpec; options: Omit<CampaignOptions, 'workers' | 'onProgress'> };
export type WorkerMessage =
  | { type: 'progress'; runsDone: number; steps: number }
  | { type: 'done'; report: Report }
  | { type: 'error'; message: string; usage: boolean }
  | { type: 'stopped' };

/**
 * A worker thread running worker.ts (worker.js in the compiled package). Running the sources, it
 * registers tsx first; compiled, it imports worker.js as it is (target.ts registers tsx for a
 * TypeScript --impl module).
 */
function startWorker(data: WorkerRequest): Worker {
  const compiled = import.meta.url.endsWith('.js');
  const workerFile = new URL(compiled ? './worker.js' : './worker.ts', import.meta.url).href;
  if (compiled) return new Worker(`import(${JSON.stringify(workerFile)})`, { eval: true, workerData: data });
  const require = createRequire(import.meta.url);
  const tsxApi = pathToFileURL(join(dirname(require.resolve('tsx/package.json')), 'dist', 'esm', 'api', 'index.mjs')).href;
  const boot = `import(${JSON.stringify(tsxApi)}).then((m) => { m.register(); return import(${JSON.stringify(workerFile)}); })`;
  return new Worker(boot, { eval: true, workerData: data });
}

async function runInWorkers(spec: TargetSpec, options: CampaignOptions): Promise<Report> {
  const n = options.workers;
  const shardOf = (i: number) => workerShard(options.shard ?? WHOLE, i, n);
  const progress = Array.from({ length: n }, () => ({ runsDone: 0, steps: 0 }));
  const workers: Worker[] = [];
  const exited = new Set<Worker>();
  const stopAll = async (except?: Worker): Promise<void> => {
    await Promise.all(
      workers
        .filter((w) => w !== except && !exited.has(w))
        .map(
          (w) =>
            new Promise<void>((res) => {
              const timer = setTimeout(() => void w.terminate().then(() => res()), 2000);
              w.once('exit', () => {
                clearTimeout(timer);
                res();
              });
              w.on('message', (m: WorkerMessage) => {
                if (m.type === 'stopped') void w.terminate();
              });
              w.postMessage('stop');
            }),
        ),
    );
  };

  const results = await new Promise<Report[]>((resolveAll, rejectAll) => {
    const reports: (Report | undefined)[] = Array(n).fill(undefined);
    let settled = false;
    const finish = (err?: Error, winner?: { worker: Worker; report: Report }) => {
      if (settled) return;
      settled = true;
      void stopAll(winner?.worker).then(() => (err ? rejectAll(err) : resolveAll(winner ? [winner.report] : (reports as Report[]))));
    };
    for (let i = 0; i < n; i++) {
      if (runsOwned(shardOf(i), options.numRuns) === 0) {
        reports[i] = { ok: true, numRuns: 0, seed: options.seed, statistics: {}, bitsReached: {} };
        continue;
      }
      const w = startWorker({
        spec,
        options: {
          ...options,
          shard: shardOf(i),
          onProgress: undefined,
          // The first worker replays the database; the others generate at once.
          database: options.database && { ...options.database, replay: i === 0 && options.database.replay !== false },
        } as WorkerRequest['options'],
      });
      workers.push(w);
      w.on('message', (m: WorkerMessage) => {
        if (settled) return;
        if (m.type === 'progress') {
          progress[i] = { runsDone: m.runsDone, steps: m.steps };
          options.onProgress?.({
            runsDone: progress.reduce((a, p) => a + p.runsDone, 0),
            steps: progress.reduce((a, p) => a + p.steps, 0),
          });
        } else if (m.type === 'error') finish(m.usage ? new UsageError(m.message) : new Error(m.message));
        else if (m.type === 'done') {
          reports[i] = m.report;
          if (!m.report.ok) finish(undefined, { worker: w, report: m.report });
          else if (reports.every((r) => r !== undefined)) finish();
        }
      });
      w.on('error', (e) => finish(new Error(`worker ${i}: ${e.message}`)));
      w.on('exit', (code) => {
        exited.add(w);
        if (!settled && reports[i] === undefined) finish(new Error(`worker ${i} exited with code ${code} before reporting`));
      });
    }
    if (workers.length === 0) finish();
  });

  // One failing worker's report, or every worker's (all conforming, or an error).
  return mergeReports(results);
}
