// The directories the CLI writes (issue 17, item 4): --out and --db checked before any work (one
// line, exit 2), nothing left behind by the check, no hang under /proc, and a counterexample
// never lost when writing it fails at the end.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli } from '../../properties/cli/program.ts';

const BUGGY = fileURLToPath(new URL('../fixtures/cli-buggy-iommu.ts', import.meta.url));
const BREAKS_OUT = fileURLToPath(new URL('../fixtures/cli-breaks-out-dir.ts', import.meta.url));
/** Finds the fixture's bug in well under a second. */
const FINDS = ['--runs', '200', '--seed', '1', '--max-commands', '12', '--domains', 'paging', '--shrink-time', '0.5'];
const tmp = () => mkdtempSync(join(tmpdir(), 'iommu-cli-out-'));

async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string; ms: number }> {
  let out = '';
  let err = '';
  const t0 = Date.now();
  const code = await runCli(argv, { out: (t) => void (out += t), err: (t) => void (err += t), isTTY: false });
  return { code, out, err, ms: Date.now() - t0 };
}

/** A refusal before any work: exit 2, one line on stderr naming the flag, nothing on stdout. */
function expectRefusedBeforeWork(r: { code: number; out: string; err: string }, flag: string, cause: RegExp): void {
  expect(r.code, r.err).toBe(2);
  expect(r.out).toBe('');
  expect(r.err.trimEnd().split('\n'), r.err).toHaveLength(1);
  expect(r.err).toContain(`iommu-conformance: ${flag}: `);
  expect(r.err).toMatch(cause);
  expect(r.err).not.toMatch(/checking/); // the campaign never started
}

describe('check --out: an unusable directory is refused before the campaign', () => {
  it('ENOTDIR: under a regular file', async () => {
    const file = join(tmp(), 'file');
    writeFileSync(file, '');
    expectRefusedBeforeWork(await cli('--impl', BUGGY, ...FINDS, '--out', join(file, 'out')), '--out', /is not a directory|a file, not a directory/);
  });

  it('EEXIST: the directory is a file', async () => {
    const file = join(tmp(), 'out');
    writeFileSync(file, '');
    expectRefusedBeforeWork(await cli('--impl', BUGGY, ...FINDS, '--out', file), '--out', /exists and is not a directory/);
  });

  it('a counterexample.json that is a directory', async () => {
    const dir = tmp();
    mkdirSync(join(dir, 'counterexample.json'));
    expectRefusedBeforeWork(await cli('--impl', BUGGY, ...FINDS, '--out', dir), '--out', /counterexample\.json is a directory/);
  });

  it.skipIf(!existsSync('/proc/self'))('under /proc: refused at once, no hang (Node\'s recursive mkdir never returns there)', async () => {
    const r = await cli('--impl', BUGGY, ...FINDS, '--out', '/proc/iommu-conformance-test/out');
    expectRefusedBeforeWork(r, '--out', /cannot create the directory \/proc\/iommu-conformance-test/);
    expect(r.ms).toBeLessThan(5000);
  });

  it.skipIf(!existsSync('/sys/kernel'))('EPERM or EACCES: a directory the system refuses (/sys)', async () => {
    expectRefusedBeforeWork(await cli('--impl', BUGGY, ...FINDS, '--out', '/sys/iommu-conformance-test'), '--out', /E(PERM|ACCES|ROFS)/);
  });

  it('a usable directory that does not exist yet: checked, and nothing left behind by a conforming run', async () => {
    const parent = tmp();
    const out = join(parent, 'a', 'b');
    const r = await cli('--runs', '2', '--seed', '1', '--max-commands', '5', '--out', out, '--quiet');
    expect(r.code, r.err).toBe(0);
    expect(readdirSync(parent)).toEqual([]);
  });
});

describe('check --db: an unusable database directory is refused before the campaign', () => {
  const saved = process.env.IOMMU_CONFORMANCE_DB;
  afterEach(() => {
    process.env.IOMMU_CONFORMANCE_DB = saved;
  });

  it('--db under a regular file', async () => {
    const file = join(tmp(), 'file');
    writeFileSync(file, '');
    expectRefusedBeforeWork(await cli('--impl', BUGGY, ...FINDS, '--db', join(file, 'db')), '--db', /a file, not a directory/);
  });

  it.skipIf(!existsSync('/proc/self'))('IOMMU_CONFORMANCE_DB under /proc: refused at once, no hang at the first save', async () => {
    process.env.IOMMU_CONFORMANCE_DB = '/proc/iommu-conformance-test/db';
    const r = await cli('--impl', BUGGY, ...FINDS);
    expectRefusedBeforeWork(r, '--db', /\/proc\/iommu-conformance-test/);
    expect(r.ms).toBeLessThan(5000);
  });
});

describe('check --out: writing fails after the campaign', () => {
  afterEach(() => {
    delete process.env.IOMMU_TEST_BREAK_DIR;
  });

  it('prints the whole counterexample, says where it could not be written, and exits 1', async () => {
    const out = join(tmp(), 'out');
    process.env.IOMMU_TEST_BREAK_DIR = out; // the implementation turns it into a file once the check passed
    const r = await cli('--impl', BREAKS_OUT, ...FINDS, '--out', out, '--quiet');
    expect(r.code, r.out + r.err).toBe(1);
    expect(r.out).toContain('PERMISSION');
    expect(r.out).toMatch(/ounterexample \(\d+ steps/); // minimal, or cut short by the shrink budget on a busy machine
    expect(r.out).toMatch(/Repro test \(could not be written to \S+out: \S+out exists and is not a directory\):\n\/\/ Counterexample found by iommu-conformance/);
    expect(r.out).toContain("test('iommu-conformance counterexample: PERMISSION'");
    expect(r.err).toMatch(/--out: .*the counterexample is printed below instead/);
  });
});
