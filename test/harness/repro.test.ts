// The counterexample's repro is a runnable vitest test: written out and run by vitest in a child
// process, it fails at its last step on the buggy implementation and passes once the bug is gone.
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Call } from '../../model/types.ts';
import { checkConformance, formatReport } from '../../properties/index.ts';
import { shrinkCalls } from '../../properties/shrink/shrink.ts';
import { replayCalls } from '../../properties/run/replay.ts';
import { callsOf } from '../../properties/run/trace.ts';
import { CachedIommu } from '../fixtures/buggy/cached-iommu.ts';

const root = resolve(import.meta.dirname, '..', '..');
const dir = join(root, 'reports', 'repro');
const fixture = join(root, 'test', 'fixtures', 'buggy', 'cached-iommu.ts');

function runVitest(file: string): { code: number; output: string } {
  try {
    const output = execFileSync(process.execPath, [join(root, 'node_modules', 'vitest', 'vitest.mjs'), 'run', '--root', dir, file], { cwd: dir, encoding: 'utf8', stdio: 'pipe' });
    return { code: 0, output };
  } catch (error) {
    const e = error as { status: number; stdout: string; stderr: string };
    return { code: e.status, output: `${e.stdout}${e.stderr}` };
  }
}

describe('the repro test', () => {
  it('runs under vitest, fails at the failing step, and passes on a correct implementation', { timeout: 60_000 }, async () => {
    const bug = 'strict-unmap-no-invalidate';
    const report = await checkConformance(() => new CachedIommu(bug), {
      seed: 11,
      repro: { imports: `import { CachedIommu } from ${JSON.stringify(fixture)};`, create: `new CachedIommu(process.env.REPRO_FIXED ? undefined : '${bug}')` },
    });
    expect(report.ok).toBe(false);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'vitest.config.ts'), "export default { test: { include: ['*.test.ts'] } };\n");
    writeFileSync(join(dir, 'counterexample.test.ts'), report.counterexample!.repro);

    const failing = runVitest('counterexample.test.ts');
    expect(failing.code).toBe(1);
    expect(failing.output).toMatch(/toContainEqual|expected/i);

    process.env.REPRO_FIXED = '1';
    try {
      const fixed = runVitest('counterexample.test.ts');
      expect(fixed.output).toMatch(/1 passed/);
      expect(fixed.code).toBe(0);
    } finally {
      delete process.env.REPRO_FIXED;
    }
  });
});


describe('a counterexample cut short by the shrink budget', () => {
  it('is flagged in the statistics and the text, and not flagged when shrinking completed', async () => {
    const create = () => new CachedIommu('permission-skip-on-hit');
    const hurried = await checkConformance(create, { seed: 3, shrinkTimeMs: 1 });
    expect(hurried.ok).toBe(false);
    expect(hurried.statistics['shrink:stopped-at-budget']).toBe(1);
    expect(formatReport(hurried)).toMatch(/Counterexample \(\d+ steps; shrinking stopped at its time budget/);
    const patient = await checkConformance(create, { seed: 3, shrinkTimeMs: 120_000 });
    expect(patient.statistics['shrink:stopped-at-budget']).toBeUndefined();
    expect(formatReport(patient)).toMatch(/Minimal counterexample \(\d+ steps\)/);
    expect(patient.counterexample!.steps.length).toBeLessThanOrEqual(hurried.counterexample!.steps.length);
  });
});

describe('the last shrinking pass', () => {
  it('keeps going past calls whose arguments are of the wrong type (a number IOVA)', async () => {
    const settings = { capabilities: undefined, kinds: [{}], representableOnly: false, stepTimeoutMs: 10_000 };
    const read = (iova: bigint): Call => ({ op: 'translate', device: 0, pasid: null, iova, access: 'read' });
    const calls: Call[] = [
      { op: 'createDomain', id: 1 },
      { op: 'attachDevice', device: 0, domain: 1 },
      { op: 'map', domain: 1, iova: 0x1000n, pa: 0x5000n, size: 0x1000n, prot: 3 },
      read(0x1000n),
      { op: 'translate', device: 0, pasid: null, iova: 0x1000 as unknown as bigint, access: 'read' }, // EINVAL
      { op: 'unmap', domain: 1, iova: 0x1000n, size: 0x1000n },
      read(0x1000n),
    ];
    const create = () => new CachedIommu('strict-unmap-no-invalidate');
    const found = await replayCalls(create, settings, calls);
    expect(found.failure?.property).toBe('COHERENCY');
    const { trace, complete } = await shrinkCalls(create, settings, { trace: found.trace, failure: found.failure! }, Date.now() + 60_000);
    expect(complete).toBe(true);
    expect(callsOf(trace)).toEqual(calls.filter((_c, i) => i !== 4)); // every call but the invalid one is needed
  });
});
