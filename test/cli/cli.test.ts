// The iommu-conformance CLI: exit codes, targets, output. Most runs are in-process (runCli), one
// goes through the real executable to see the process exit code.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { parseDomains } from '../../properties/cli/domains.ts';
import { runCli } from '../../properties/cli/program.ts';

const fixture = (name: string) => fileURLToPath(new URL(`../fixtures/${name}`, import.meta.url));
const BIN = fileURLToPath(new URL('../../bin/iommu-conformance.mjs', import.meta.url));
const FAKE = fixture('fake-process.mjs');

async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runCli(argv, { out: (t) => void (out += t), err: (t) => void (err += t), isTTY: false });
  return { code, out, err };
}

describe('iommu-conformance check', () => {
  it('exits 0 on the built-in FastIommu, with a summary table', async () => {
    const r = await cli('check', '--runs', '3', '--seed', '7', '--max-commands', '10', '--iotlb', 'inf');
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/result\s+CONFORMING/);
    expect(r.out).toMatch(/runs\s+3/);
    expect(r.out).toMatch(/commands\s+.*createDomain \d+/);
    expect(r.err).toContain('seed 7');
  });

  it('exits 1 on a buggy module, printing steps, the repro and the replay command', async () => {
    const out = mkdtempSync(join(tmpdir(), 'iommu-cli-'));
    const r = await cli('--impl', fixture('cli-buggy-iommu.ts'), '--runs', '200', '--seed', '1', '--max-commands', '12', '--domains', 'paging', '--out', out, '--quiet');
    expect(r.code, r.out + r.err).toBe(1);
    expect(r.out).toContain('PERMISSION');
    expect(r.out).toMatch(/Minimal counterexample \(\d+ steps\)/);
    expect(r.out).toMatch(/Replay: iommu-conformance check --impl \S+cli-buggy-iommu.ts --domains paging --max-commands 12 --seed 1 --path [\d:]+/);
    const test = readFileSync(join(out, 'counterexample.test.ts'), 'utf8');
    expect(test).toContain("import Implementation from '");
    expect(test).toContain('new Implementation()');
    const trace = JSON.parse(readFileSync(join(out, 'counterexample.json'), 'utf8'));
    expect(trace.target).toEqual({ kind: 'impl', module: fixture('cli-buggy-iommu.ts') });
    expect(trace.calls.length).toBeGreaterThan(0);

    // replay: still fails against the buggy module (exit 1), passes against the built-in one.
    const again = await cli('replay', join(out, 'counterexample.json'));
    expect(again.code, again.out + again.err).toBe(1);
    expect(again.out).toContain('STILL FAILS');
    expect(again.out).toMatch(/ 1\. iommu\.createDomain/);
    const fixed = await cli('replay', join(out, 'counterexample.json'), '--iotlb', '8');
    expect(fixed.code, fixed.out + fixed.err).toBe(0);
    expect(fixed.out).toContain('PASSES');
  });

  it('says when shrinking stopped at its --shrink-time budget, and refuses a bad one', async () => {
    const r = await cli('--impl', fixture('cli-buggy-iommu.ts'), '--runs', '200', '--seed', '1', '--max-commands', '12', '--domains', 'paging', '--shrink-time', '0.001', '--quiet');
    expect(r.code, r.out + r.err).toBe(1);
    expect(r.out).toMatch(/Counterexample \(\d+ steps; shrinking stopped at its time budget/);
    expect(r.out).toMatch(/Replay: .* --shrink-time 0\.001 --seed 1 --path /);
    const bad = await cli('--shrink-time', '-1');
    expect(bad.code).toBe(2);
    expect(bad.err).toContain('--shrink-time must be a positive number of seconds');
  });

  it('prints the report as JSON with --json', async () => {
    const r = await cli('--runs', '2', '--seed', '3', '--max-commands', '5', '--json');
    expect(r.code).toBe(0);
    const report = JSON.parse(r.out);
    expect(report).toMatchObject({ ok: true, numRuns: 2, seed: 3 });
    expect(report.statistics.runs).toBe(2);
  });

  it('splits the runs over worker threads, and the first failure wins', async () => {
    const ok = await cli('--runs', '4', '--seed', '3', '--max-commands', '5', '--workers', '2', '--json');
    expect(ok.code, ok.err).toBe(0);
    expect(JSON.parse(ok.out)).toMatchObject({ ok: true, numRuns: 4 });
    const bad = await cli('--impl', fixture('cli-buggy-iommu.ts'), '--runs', '400', '--seed', '1', '--max-commands', '12', '--workers', '2', '--quiet');
    expect(bad.code, bad.out + bad.err).toBe(1);
    expect(bad.out).toMatch(/Replay: .* --seed (1|2) --path/);
  });

  it('takes a factory export by name', async () => {
    const r = await cli('--impl', `${fixture('cli-factory.ts')}#makeIommu`, '--runs', '2', '--seed', '3', '--max-commands', '5', '--quiet');
    expect(r.code, r.err).toBe(0);
  });

  it.each([
    [['--bogus'], /unknown option '--bogus'/],
    [['--runs', 'many'], /--runs must be an integer/],
    [['--impl', 'test/fixtures/no-such-module.ts'], /--impl: cannot find module/],
    [['--impl', fixture('cli-not-iommu.ts')], /does not give an Iommu \(missing createDomain/],
    [['--impl', fixture('cli-factory.ts')], /exports several functions \(makeIommu, helper\)/],
    [['--impl', `${fixture('cli-factory.ts')}#VERSION`], /no exported class or function named VERSION/],
    [['--exec', `"${process.execPath}" "${FAKE}" nocaps`], /--exec: .*process exited with code 3 \(stderr: fake: cannot open device\)/],
    [['--iotlb', '4', '--exec', 'true'], /--iotlb sets the IOTLB of the built-in implementation only/],
    [['--domains', 'paging,identity+deferred'], /"identity\+deferred" is not a valid domain/],
    [['--domains', 'fast'], /unknown word "fast"/],
    [['--path', '1:2'], /give its --seed too/],
    [['replay', '/nonexistent/counterexample.json'], /replay: cannot read/],
  ])('exits 2 with one clear line for %j', async (argv, message) => {
    const r = await cli(...argv);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(message);
    expect(r.err.trim().split('\n').filter((l) => !l.startsWith('iommu-conformance: checking')).length).toBe(1);
    expect(r.err).not.toMatch(/\n\s+at /); // no stack trace
  });
});

describe('the executable', () => {
  it('exits with the code: 2 for usage errors, 0 for a conforming run', async () => {
    const run = (...args: string[]) =>
      promisify(execFile)(process.execPath, [BIN, ...args]).then(
        (r) => ({ code: 0, ...r }),
        (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }),
      );
    const [bad, good] = await Promise.all([run('check', '--frobnicate'), run('--runs', '2', '--seed', '1', '--max-commands', '5', '--quiet')]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("unknown option '--frobnicate'");
    expect(good.code, good.stderr).toBe(0);
    expect(good.stdout).toContain('CONFORMING');
  });
});

describe('--domains vocabulary', () => {
  it('maps words to createDomain options', () => {
    expect(parseDomains('paging,deferred+whole,levels3,identity,blocked,4k+aperture32')).toEqual([
      {},
      { invalidation: 'deferred', unmap: 'whole' },
      { levels: 3 },
      { type: 'identity' },
      { type: 'blocked' },
      { pageSizes: [0x1000n], aperture: 1n << 32n },
    ]);
    expect(parseDomains('default').length).toBeGreaterThan(5);
    expect(existsSync(BIN)).toBe(true);
  });
});
