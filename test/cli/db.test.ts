// The CLI's failure database: --db DIR, --no-db, the default (IOMMU_CONFORMANCE_DB here: the
// suite turns the database off, see vitest.config.ts), replay first, dropping, warnings.
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli } from '../../properties/cli/program.ts';

const BUGGY = fileURLToPath(new URL('../fixtures/cli-buggy-iommu.ts', import.meta.url));
const IMPL = fileURLToPath(new URL('../../impl/index.ts', import.meta.url));
const tmp = () => mkdtempSync(join(tmpdir(), 'iommu-cli-db-'));

async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runCli(argv, { out: (t) => void (out += t), err: (t) => void (err += t), isTTY: false });
  return { code, out, err };
}
/** Finds the fixture's bug quickly. */
const FINDS = ['--runs', '200', '--seed', '1', '--max-commands', '12', '--domains', 'paging', '--shrink-time', '0.5', '--quiet'];
/** Cannot find it: one run without commands. */
const BLIND = ['--runs', '1', '--seed', '3', '--max-commands', '0', '--shrink-time', '0.5', '--quiet'];

const saved = process.env.IOMMU_CONFORMANCE_DB;
afterEach(() => {
  process.env.IOMMU_CONFORMANCE_DB = saved;
});

describe('iommu-conformance check: the failure database', () => {
  it('--db DIR: saves the counterexample, replays it first next time and prints the database line', async () => {
    const db = tmp();
    const first = await cli('--impl', BUGGY, ...FINDS, '--db', db);
    expect(first.code, first.out + first.err).toBe(1);
    expect(first.out).toMatch(/database\s+\S+: replayed 0, still failing 0, dropped 0; saved \S+\.json/);
    const files = readdirSync(db);
    expect(files).toHaveLength(1);

    const again = await cli('--impl', BUGGY, ...BLIND, '--db', db);
    expect(again.code, again.out + again.err).toBe(1);
    expect(again.out).toContain(`From the failure database: ${join(db, files[0]!)}`);
    expect(again.out).toMatch(/database\s+\S+: replayed 1, still failing 1, dropped 0/);
    expect(again.out).toMatch(/runs\s+0\n/);
    expect(again.out).toContain(`Replay: iommu-conformance replay ${join(db, files[0]!)}`);
    // The entry is a trace file for `replay`.
    const replay = await cli('replay', join(db, files[0]!));
    expect(replay.code, replay.out + replay.err).toBe(1);
    expect(replay.out).toContain('STILL FAILS');
    // --json carries the database's report, statistics included.
    const json = JSON.parse((await cli('--impl', BUGGY, ...BLIND, '--db', db, '--json')).out);
    expect(json.database).toMatchObject({ replayed: 1, stillFailing: 1 });
    expect(json.statistics).toMatchObject({ 'db:replayed': 1, 'db:still-failing': 1, 'db:dropped': 0 });
    // With two workers, the first replays it.
    const workers = await cli('--impl', BUGGY, ...BLIND, '--runs', '2', '--workers', '2', '--db', db);
    expect(workers.code, workers.out + workers.err).toBe(1);
    expect(workers.out).toContain('From the failure database');
  });

  it('keeps entries of other targets, and drops an entry once the implementation is fixed', async () => {
    const db = tmp();
    const dir = tmp();
    const module = join(dir, 'toggle-iommu.ts');
    // Buggy (read-only stored read-write) until a file named `fixed` is next to it.
    writeFileSync(
      module,
      [
        `import { existsSync } from 'node:fs';`,
        `import { FastIommu } from ${JSON.stringify(pathToFileURL(IMPL).href)};`,
        `export default class ToggleIommu extends FastIommu {`,
        `  override map(domain: number, iova: bigint, pa: bigint, size: bigint, prot: 0 | 1 | 2 | 3) {`,
        `    const fixed = existsSync(new URL('./fixed', import.meta.url));`,
        `    return super.map(domain, iova, pa, size, !fixed && prot === 1 ? 3 : prot);`,
        `  }`,
        `}`,
      ].join('\n'),
    );
    expect((await cli('--impl', BUGGY, ...FINDS, '--db', db)).code).toBe(1);
    const found = await cli('--impl', module, ...FINDS, '--db', db);
    expect(found.code, found.out + found.err).toBe(1);
    expect(found.out).toMatch(/replayed 0, still failing 0, dropped 0, 1 of other targets kept; saved/);
    expect(readdirSync(db)).toHaveLength(2);

    writeFileSync(join(dir, 'fixed'), '');
    const fixed = await cli('--impl', module, ...BLIND, '--db', db);
    expect(fixed.code, fixed.out + fixed.err).toBe(0);
    expect(fixed.err).toMatch(/^iommu-conformance: database: 1 saved counterexample passes now, dropped: \S+\.json$/m);
    expect(fixed.out).toMatch(/database\s+\S+: replayed 1, still failing 0, dropped 1, 1 of other targets kept/);
    expect(readdirSync(db)).toHaveLength(1); // the other target's
  });

  it('--no-db writes nothing; without it the default database (IOMMU_CONFORMANCE_DB) is used', async () => {
    const db = tmp();
    process.env.IOMMU_CONFORMANCE_DB = db;
    const none = await cli('--impl', BUGGY, ...FINDS, '--no-db');
    expect(none.code).toBe(1);
    expect(none.out).not.toMatch(/database/);
    expect(readdirSync(db)).toEqual([]);
    const used = await cli('--impl', BUGGY, ...FINDS);
    expect(used.code).toBe(1);
    expect(readdirSync(db)).toHaveLength(1);
    process.env.IOMMU_CONFORMANCE_DB = 'off';
    expect((await cli('--impl', BUGGY, ...BLIND)).code).toBe(0);
  });

  it('warns in one line about a corrupt entry or an unusable directory, and goes on', async () => {
    const db = tmp();
    expect((await cli('--impl', BUGGY, ...FINDS, '--db', db)).code).toBe(1);
    const [entry] = readdirSync(db);
    writeFileSync(join(db, entry!), '{"format": "iommu-conformance-failure", "version": 2');
    const corrupt = await cli('--impl', BUGGY, ...BLIND, '--db', db);
    expect(corrupt.code, corrupt.out + corrupt.err).toBe(0);
    expect(corrupt.err.split('\n').filter((l) => l.includes('database'))).toEqual([expect.stringMatching(/^iommu-conformance: database: skipped \S+\.json: bad JSON/)]);

    const file = join(tmp(), 'plain-file');
    writeFileSync(file, '');
    // An unusable --db asked for is refused before any work (issue 17, item 4; test/cli/output-paths.test.ts).
    const unusable = await cli('--impl', BUGGY, ...FINDS, '--db', file);
    expect(unusable.code, unusable.out + unusable.err).toBe(2);
    expect(unusable.err).toMatch(/^iommu-conformance: --db: \S+ exists and is not a directory\n$/);
  });
});
