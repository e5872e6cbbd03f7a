// Bad input to the CLI outside the subprocess (issue 17, item 10): replay files that are corrupt,
// foreign or from the future, and options checkConformance refuses, are each one clear line on
// stderr and exit 2, never a TypeError from inside the replay nor an error followed by a summary.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../../properties/cli/program.ts';

async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runCli(argv, { out: (t) => void (out += t), err: (t) => void (err += t), isTTY: false });
  return { code, out, err };
}

/** A valid counterexample.json (the built-in target, two calls), changed by `edit`. */
const GOOD = {
  version: 1,
  target: { kind: 'builtin' },
  seed: 1,
  property: 'RESULT',
  message: 'm',
  steps: [],
  calls: [
    { op: 'createDomain', id: 1 },
    { op: 'map', domain: 1, iova: { $bigint: '0x0' }, pa: { $bigint: '0x1000' }, size: { $bigint: '0x1000' }, prot: 3 },
  ],
};
function traceFile(text: string): string {
  const file = join(mkdtempSync(join(tmpdir(), 'iommu-replay-')), 'counterexample.json');
  writeFileSync(file, text);
  return file;
}
const edited = (edit: (t: Record<string, unknown>) => void): string => {
  const t = structuredClone(GOOD) as Record<string, unknown>;
  edit(t);
  return traceFile(JSON.stringify(t, null, 2));
};

/** One line on stderr, exit 2, nothing replayed. */
async function expectOneLineRefusal(file: string, cause: RegExp): Promise<void> {
  const r = await cli('replay', file);
  expect(r.code, r.out + r.err).toBe(2);
  expect(r.out).toBe('');
  expect(r.err.trimEnd().split('\n'), r.err).toHaveLength(1);
  expect(r.err).toMatch(/^iommu-conformance: replay: /);
  expect(r.err).toMatch(cause);
  expect(r.err).not.toMatch(/Cannot read properties|undefined \(reading/);
}

describe('iommu-conformance replay: bad files', () => {
  it('replays a good file (the base the others change)', async () => {
    const r = await cli('replay', edited(() => {}));
    expect(r.code, r.out + r.err).toBe(0);
    expect(r.out).toContain('PASSES');
  });

  it('an unknown target kind', () => expectOneLineRefusal(edited((t) => (t.target = { kind: 'qemu-of-the-future' })), /target kind "qemu-of-the-future" is none of builtin, impl, exec/));
  it('a target without its fields', () => expectOneLineRefusal(edited((t) => (t.target = { kind: 'exec', command: '' })), /exec target has no command/));
  it('an unknown op', () => expectOneLineRefusal(edited((t) => (t.calls as unknown[]).push({ op: 'frobnicate', id: 1 })), /call 3: unknown op "frobnicate"/));
  it('a call without its arguments', () => expectOneLineRefusal(edited((t) => ((t.calls as unknown[])[1] = { op: 'map', domain: 1 })), /call 2: map without iova, pa, size, prot/));
  it('a call with a key no parameter has', () => expectOneLineRefusal(edited((t) => ((t.calls as unknown[])[0] = { op: 'createDomain', id: 1, colour: 'red' })), /call 1: createDomain with unknown colour/));
  it('a call that is not an object', () => expectOneLineRefusal(edited((t) => ((t.calls as unknown[])[0] = 7)), /call 1: not an object/));
  it('a format version from the future', () => expectOneLineRefusal(edited((t) => (t.version = 2)), /format version is 2, newer than this iommu-conformance reads \(1\)/));
  it('no format version', () => expectOneLineRefusal(edited((t) => delete t.version), /no format version/));
  it('no calls', () => expectOneLineRefusal(edited((t) => delete t.calls), /no calls/));
  it('bad domains', () => expectOneLineRefusal(edited((t) => (t.domains = 'paging')), /domains are not a list/));
  it('not an object', () => expectOneLineRefusal(traceFile('[1, 2]'), /not a JSON object/));
  it('corrupt JSON, cut short', () => expectOneLineRefusal(traceFile(JSON.stringify(GOOD).slice(0, 40)), /not valid JSON/));
  // V8 quotes the text around the error, newlines included: the message must still be one line.
  it('corrupt JSON with newlines around the error', () => expectOneLineRefusal(traceFile('{\n  "version": 1,\n  "target": x\n}\n'), /not valid JSON: Unexpected token/));
  it('an empty file', () => expectOneLineRefusal(traceFile(''), /not valid JSON/));
  it('a bad tagged value', () => expectOneLineRefusal(edited((t) => ((t.calls as Record<string, unknown>[])[1]!.iova = { $bigint: 'zz' })), /not valid JSON|bigint/i));
  it('a missing file', () => expectOneLineRefusal('/nonexistent/counterexample.json', /cannot read \/nonexistent\/counterexample\.json: ENOENT/));
});

describe('iommu-conformance check: options checkConformance refuses', () => {
  it('a bad --path is one line and exit 2, without the summary table', async () => {
    const r = await cli('check', '--seed', '1', '--path', 'zz:1');
    expect(r.code).toBe(2);
    expect(r.out).toBe('');
    expect(r.err).toMatch(/iommu-conformance: bad options: path must look like "3:1:0", not "zz:1"\n$/);
    expect(r.err).not.toMatch(/Summary|error:/);
  });
});
