// The C example (examples/c/iommu.c) through the subprocess protocol: the correct build conforms,
// the -DSTALE_IOTLB_BUG build gives a short COHERENCY counterexample, and the CLI agrees.
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkConformance } from '../properties/index.ts';
import { SubprocessIommu } from '../properties/adapters/subprocess.ts';

const SOURCE = fileURLToPath(new URL('../examples/c/iommu.c', import.meta.url));
const BIN = fileURLToPath(new URL('../bin/iommu-conformance.mjs', import.meta.url));

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
if (!compiler) console.warn('c-example.test.ts: skipped, no C compiler (cc, gcc or clang) found');

describe.skipIf(!compiler)('the C example', () => {
  const dir = mkdtempSync(join(tmpdir(), 'iommu-c-'));
  const good = join(dir, 'iommu');
  const buggy = join(dir, 'iommu-bug');
  const adapters: SubprocessIommu[] = [];

  beforeAll(async () => {
    const cc = promisify(execFile);
    await Promise.all([
      cc(compiler!, ['-O2', '-Wall', '-o', good, SOURCE, '-lm']),
      cc(compiler!, ['-O2', '-Wall', '-DSTALE_IOTLB_BUG', '-o', buggy, SOURCE, '-lm']),
    ]);
  });
  afterAll(async () => {
    await Promise.all(adapters.map((a) => a.close()));
  });

  const check = async (exe: string, numRuns: number) => {
    const adapter = await SubprocessIommu.start(`"${exe}"`);
    adapters.push(adapter);
    expect(adapter.capabilities).toEqual({ deviceIdBits: 24 });
    return checkConformance(
      async () => {
        await adapter.reset();
        return adapter;
      },
      { numRuns, seed: 2024, invalidArguments: 'representable' },
    );
  };

  it('conforms (correct build)', async () => {
    const report = await check(good, 300);
    expect(report.error).toBeUndefined();
    expect(report.counterexample?.message).toBeUndefined();
    expect(report.ok).toBe(true);
    expect(report.statistics['stale-allowed']).toBeGreaterThan(0); // its IOTLB is really used
  });

  it('fails with a short COHERENCY counterexample (buggy build)', async () => {
    const report = await check(buggy, 300);
    expect(report.ok).toBe(false);
    expect(report.counterexample?.property).toBe('COHERENCY');
    expect(report.counterexample!.steps.length).toBeLessThanOrEqual(8);
    expect(report.counterexample!.steps.at(-1)).toMatch(/translate/);
  });

  it('fails through the CLI with --exec (exit 1, files written)', async () => {
    const out = join(dir, 'out');
    const r = await promisify(execFile)(process.execPath, [BIN, 'check', '--exec', `"${buggy}"`, '--runs', '300', '--seed', '7', '--out', out, '--quiet']).then(
      () => ({ code: 0, stdout: '' }),
      (e: { code: number; stdout: string }) => e,
    );
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('COHERENCY violated');
    expect(r.stdout).toMatch(/Replay: iommu-conformance check --exec .*iommu-bug.* --seed 7 --path [\d:]+/);
    expect(readFileSync(join(out, 'counterexample.test.ts'), 'utf8')).toContain('SubprocessIommu.start(');
    expect(JSON.parse(readFileSync(join(out, 'counterexample.json'), 'utf8')).target.kind).toBe('exec');
  });
});
