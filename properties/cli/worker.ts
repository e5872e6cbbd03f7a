// A worker thread of a parallel campaign (see campaign.ts): runs its share and reports back.
import { parentPort, workerData } from 'node:worker_threads';
import { runHere, type WorkerMessage, type WorkerRequest } from './campaign.ts';
import { UsageError } from './target.ts';

const port = parentPort!;
const { spec, options } = workerData as WorkerRequest;
const post = (m: WorkerMessage) => port.postMessage(m);
let close: (() => Promise<void>) | undefined;
let lastProgress = 0;

port.on('message', (m: unknown) => {
  if (m !== 'stop') return;
  // Close the target (kills a subprocess) before the main thread terminates this worker.
  void (close?.() ?? Promise.resolve()).finally(() => post({ type: 'stopped' }));
});

try {
  const report = await runHere(
    spec,
    {
      ...options,
      onProgress: (p) => {
        const now = Date.now();
        if (now - lastProgress < 200) return;
        lastProgress = now;
        post({ type: 'progress', runsDone: p.runsDone, steps: p.steps });
      },
    },
    (c) => (close = c),
  );
  post({ type: 'progress', runsDone: report.numRuns, steps: report.statistics.steps ?? 0 });
  post({ type: 'done', report });
} catch (e) {
  post({ type: 'error', message: (e as Error).message, usage: e instanceof UsageError });
}
port.unref();
