// Pipelined subprocess checking (issue 18, item 1): the adapter takes several requests in flight
// (written in one write, answered first in, first out, each answer within its own time limit),
// and the harness, pipelining a step's probe translations, judges the same trace as one call at
// a time.
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveCapabilities } from '../../model/validate.ts';
import { AdapterError, SubprocessIommu } from '../../properties/adapters/subprocess.ts';
import { runArbitrary } from '../../properties/generate/intents.ts';
import { forEachInOrder, isPipelined, PIPELINED } from '../../properties/run/invoke.ts';
import { RunContext } from '../../properties/run/run.ts';
import { ConformanceFailure } from '../../properties/run/trace.ts';
import { DEFAULT_DOMAIN_KINDS } from '../../properties/generate/resolve.ts';

const COUNTING = fileURLToPath(new URL('../fixtures/misbehaving/counting.mjs', import.meta.url));
const counting = (...args: string[]) => `"${process.execPath}" "${COUNTING}" ${args.join(' ')}`;
const translate = (a: SubprocessIommu, iova: bigint) => a.translate(1, null, iova, 'read');

describe('SubprocessIommu with several requests in flight', () => {
  const started: SubprocessIommu[] = [];
  const start = async (command: string, stepTimeoutMs = 2000) => {
    const a = await SubprocessIommu.start(command, { stepTimeoutMs });
    started.push(a);
    await a.reset();
    return a;
  };
  afterAll(async () => {
    await Promise.all(started.map((a) => a.close()));
  });

  it('declares itself pipelined and writes the calls of one turn in one write, answered in order', async () => {
    const a = await start(counting());
    expect(isPipelined(a)).toBe(true);
    const answers = await Promise.all(Array.from({ length: 16 }, (_, i) => translate(a, BigInt(i) << 12n)));
    expect(answers).toEqual(Array(16).fill({ ok: true, pa: 16n * 0x1000n }));
    expect(await translate(a, 0n)).toEqual({ ok: true, pa: 0x1000n });
  });

  it('gives each answer its own time limit, counted from the answer before it', async () => {
    const a = await start(counting('delay', '150'), 400);
    // Five answers 150 ms apart: 750 ms for the last, each within 400 ms of the one before.
    expect(await Promise.all(Array.from({ length: 5 }, () => translate(a, 0n)))).toHaveLength(5);
  });

  it('a hang fails the first request left unanswered; the later ones as not answered', async () => {
    const a = await start(counting('hang-at', '3'), 300);
    const outcomes = await Promise.allSettled(Array.from({ length: 5 }, (_, i) => translate(a, BigInt(i) << 12n)));
    expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'rejected', 'rejected']);
    const [third, fourth] = outcomes.slice(2).map((o) => (o as PromiseRejectedResult).reason as AdapterError);
    expect(third).toBeInstanceOf(AdapterError);
    expect(third!.request).toBe('{"op":"translate","device":1,"pasid":null,"iova":"0x2000","access":"read"}');
    expect(third!.message).toContain('no answer within 300 ms');
    expect(fourth!.message).toMatch(/"iova":"0x3000".*not answered/);
    // The next reset restarts the process.
    const pid = a.pid;
    await a.reset();
    expect(a.pid).not.toBe(pid);
    expect(await translate(a, 0n)).toEqual({ ok: true, pa: 0x1000n });
  });
});

const compiler = (() => {
  for (const cc of [process.env.CC, 'cc', 'gcc', 'clang']) {
    if (!cc) continue;
    try {
      execFileSync(cc, ['--version'], { stdio: 'ignore' });
      return cc;
    } catch {
      /* try the next */
    }
  }
  return undefined;
})();
if (!compiler) console.warn('pipelining.test.ts: the trace comparison skipped, no C compiler (install cc, gcc or clang)');

describe.skipIf(!compiler)('the harness pipelining the C example', () => {
  const dir = mkdtempSync(join(tmpdir(), 'iommu-pipe-'));
  const source = fileURLToPath(new URL('../../examples/c/iommu.c', import.meta.url));
  const adapters: SubprocessIommu[] = [];
  beforeAll(async () => {
    const cc = promisify(execFile);
    await cc(compiler!, ['-O1', '-std=c11', '-D_POSIX_C_SOURCE=200809L', '-o', join(dir, 'iommu'), source, '-lm']);
    await cc(compiler!, ['-O1', '-std=c11', '-D_POSIX_C_SOURCE=200809L', '-DSTALE_IOTLB_BUG', '-o', join(dir, 'iommu-bug'), source, '-lm']);
  }, 60_000);
  afterAll(async () => {
    await Promise.all(adapters.map((a) => a.close()));
  });

  /** The trace of each run (and its failure), pipelined or one call at a time. */
  const traces = async (binary: string, pipelined: boolean, seed: number) => {
    const adapter = await SubprocessIommu.start(join(dir, binary));
    adapters.push(adapter);
    if (!pipelined) Object.defineProperty(adapter, PIPELINED, { value: false });
    expect(isPipelined(adapter)).toBe(pipelined);
    const caps = resolveCapabilities(adapter.capabilities);
    const settings = { capabilities: adapter.capabilities, kinds: DEFAULT_DOMAIN_KINDS, representableOnly: true, stepTimeoutMs: 5000 };
    const out = [];
    for (const intents of fc.sample(runArbitrary(40, true, caps), { seed, numRuns: 12 })) {
      await adapter.reset();
      const ctx = new RunContext(adapter, settings);
      let failure: string | undefined;
      try {
        await forEachInOrder(intents, (intent) => ctx.runIntent(intent));
      } catch (e) {
        if (!(e instanceof ConformanceFailure)) throw e;
        failure = e.message;
      }
      out.push({ trace: ctx.trace, failure });
    }
    return out;
  };

  it.each([
    ['iommu', 7],
    ['iommu-bug', 3],
  ])('%s: the judged traces are those of one call at a time (seed %i)', async (binary, seed) => {
    const pipelined = await traces(binary, true, seed);
    const oneByOne = await traces(binary, false, seed);
    expect(pipelined).toEqual(oneByOne);
    expect(pipelined.flatMap((r) => r.trace).filter((e) => 'probe' in e && e.probe).length).toBeGreaterThan(100);
    if (binary === 'iommu-bug') expect(pipelined.some((r) => r.failure !== undefined)).toBe(true);
  }, 30_000);
});
