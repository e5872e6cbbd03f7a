// The failure database (properties/db/) under checkConformance: replay first, dropping what
// passes now, corrupt and foreign entries skipped, an unusable directory, atomic saves. Every
// database is a temporary directory.
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FastIommu } from '../../impl/index.ts';
import type { Call } from '../../model/ops.ts';
import { checkConformance } from '../../properties/index.ts';
import { entryName, FailureDatabase, targetHash } from '../../properties/db/database.ts';
import Buggy from '../fixtures/cli-buggy-iommu.ts';

const tmp = () => mkdtempSync(join(tmpdir(), 'iommu-db-'));
const TARGET = { kind: 'test', name: 'read-only ignored' };
/** The buggy fixture's counterexample: a write through a read-only mapping goes through. */
const CALLS: Call[] = [
  { op: 'createDomain', id: 1 },
  { op: 'attachPasid', device: 0, pasid: 1, domain: 1 },
  { op: 'map', domain: 1, iova: 0n, pa: 0x40000000n, size: 0x1000n, prot: 1 },
  { op: 'translate', device: 0, pasid: 1, iova: 0n, access: 'write' },
] as Call[];
const ENTRY = { property: 'PERMISSION', message: 'saved by the test', calls: CALLS };
/** Options with which generation alone cannot find the bug: one run without commands. */
const BLIND = { numRuns: 1, maxCommands: 0, seed: 3, shrinkTimeMs: 500 };

describe('the failure database', () => {
  it('is off by default when checkConformance is called from code', async () => {
    const report = await checkConformance(() => new Buggy(), { numRuns: 200, seed: 1, maxCommands: 12, domains: [{}], shrinkTimeMs: 500 });
    expect(report.counterexample).toBeDefined();
    expect(report.database).toBeUndefined();
    expect(report.statistics['db:replayed']).toBeUndefined();
  });

  it('saves a counterexample found by generation, and replays it first on the next run', async () => {
    const dir = tmp();
    const database = { dir, target: TARGET };
    const first = await checkConformance(() => new Buggy(), { numRuns: 200, seed: 1, maxCommands: 12, domains: [{}], shrinkTimeMs: 500, database });
    expect(first.counterexample?.property).toBe('PERMISSION');
    expect(first.database).toMatchObject({ replayed: 0, stillFailing: 0, dropped: 0 });
    const files = readdirSync(dir);
    expect(files).toEqual([entryName(TARGET, first.counterexample!.calls)]);
    expect(first.database!.saved).toBe(join(dir, files[0]!));
    const saved = JSON.parse(readFileSync(join(dir, files[0]!), 'utf8'));
    expect(saved).toMatchObject({ format: 'iommu-conformance-failure', version: 1, target: TARGET, property: 'PERMISSION' });
    expect(saved.capabilities).toEqual(new Buggy().capabilities);
    expect(Date.parse(saved.foundAt)).toBeGreaterThan(0);

    // A seed and options that do not find it: the saved one is reported, nothing generated.
    const second = await checkConformance(() => new Buggy(), { ...BLIND, database });
    expect(second.counterexample?.property).toBe('PERMISSION');
    expect(second.numRuns).toBe(0);
    expect(second.database).toMatchObject({ replayed: 1, stillFailing: 1, dropped: 0, from: join(dir, files[0]!) });
    expect(second.statistics).toMatchObject({ 'db:replayed': 1, 'db:still-failing': 1, 'db:dropped': 0 });
    expect(readdirSync(dir)).toEqual(files);
    // Without the database the same options find nothing.
    expect((await checkConformance(() => new Buggy(), BLIND)).ok).toBe(true);
  });

  it('shrinks a saved counterexample, replacing its entry by the shorter one', async () => {
    const dir = tmp();
    const longer = [{ op: 'createDomain', id: 7 } as Call, ...CALLS];
    await FailureDatabase.open({ dir, target: TARGET }).save({ ...ENTRY, calls: longer });
    const report = await checkConformance(() => new Buggy(), { ...BLIND, database: { dir, target: TARGET } });
    expect(report.counterexample?.calls).toEqual(CALLS);
    expect(readdirSync(dir)).toEqual([entryName(TARGET, CALLS)]);
  });

  it('drops the entries that pass now (the implementation fixed), and says so in one line', async () => {
    const dir = tmp();
    await FailureDatabase.open({ dir, target: TARGET }).save(ENTRY);
    const lines: string[] = [];
    const report = await checkConformance(() => new FastIommu(), { ...BLIND, database: { dir, target: TARGET, onMessage: (l) => lines.push(l) } });
    expect(report.ok).toBe(true);
    expect(report.database).toMatchObject({ replayed: 1, stillFailing: 0, dropped: 1 });
    expect(report.statistics['db:dropped']).toBe(1);
    expect(readdirSync(dir)).toEqual([]);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/1 saved counterexample passes now, dropped: .*\.json/);
  });

  it('skips corrupt entries with a line each and keeps those of other targets, never crashing', async () => {
    const dir = tmp();
    const ours = targetHash(TARGET);
    await FailureDatabase.open({ dir, target: { kind: 'test', name: 'another' } }).save(ENTRY);
    const good = JSON.parse(readFileSync(join(dir, readdirSync(dir)[0]!), 'utf8'));
    const write = (name: string, content: unknown) => writeFileSync(join(dir, name), typeof content === 'string' ? content : JSON.stringify(content));
    write(`${ours}-0000000000000001.json`, '{ not json');
    write(`${ours}-0000000000000002.json`, { ...good, target: TARGET, version: 99 });
    write(`${ours}-0000000000000003.json`, { ...good, target: TARGET, calls: [{ op: 'frobnicate' }] });
    write(`${ours}-0000000000000004.json`, good); // another target's entry under our name
    write('notes.json', good);
    const lines: string[] = [];
    const report = await checkConformance(() => new Buggy(), { ...BLIND, database: { dir, target: TARGET, onMessage: (l) => lines.push(l) } });
    expect(report.ok).toBe(true);
    expect(report.database).toMatchObject({ replayed: 0, skipped: 5, foreign: 1 });
    expect(lines.join('\n')).toMatch(/0001\.json: bad JSON/);
    expect(lines.join('\n')).toMatch(/0002\.json: unknown version 99/);
    expect(lines.join('\n')).toMatch(/0003\.json: unknown op "frobnicate"/);
    expect(lines.join('\n')).toMatch(/0004\.json: recorded for a different target/);
    expect(lines.join('\n')).toMatch(/notes\.json: not an entry name/);
    expect(lines.every((l) => !l.includes('\n'))).toBe(true);
    expect(readdirSync(dir)).toHaveLength(6); // nothing of what it does not understand is deleted
  });

  it('goes on without a directory it cannot use, with one line', async () => {
    const file = join(tmp(), 'a-file');
    writeFileSync(file, 'not a directory');
    for (const dir of [file, join(file, 'below')]) {
      const lines: string[] = [];
      const report = await checkConformance(() => new Buggy(), { numRuns: 200, seed: 1, maxCommands: 12, domains: [{}], shrinkTimeMs: 300, database: { dir, onMessage: (l) => lines.push(l) } });
      expect(report.counterexample?.property).toBe('PERMISSION');
      expect(report.database?.saved).toBeUndefined();
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/cannot be used .*running without it/);
    }
  });

  it('saves atomically: two saves of the same counterexample at once leave one whole entry', async () => {
    const dir = tmp();
    const a = FailureDatabase.open({ dir, target: TARGET });
    const b = FailureDatabase.open({ dir, target: TARGET });
    const names = await Promise.all([a.save(ENTRY), b.save(ENTRY), a.save({ ...ENTRY, message: 'third' })]);
    expect(new Set(names).size).toBe(1);
    expect(readdirSync(dir)).toEqual([names[0]]); // no temporary file left
    expect(JSON.parse(readFileSync(join(dir, names[0]!), 'utf8')).calls).toHaveLength(4);
    expect(a.entries().map((e) => e.calls)).toEqual([CALLS]);
  });
});
