// The C example (examples/c/iommu.c) through the subprocess protocol: the correct build conforms,
// the -DSTALE_IOTLB_BUG build gives a short COHERENCY counterexample, and the CLI agrees; its v2
// replacePasid (declared with pasidReplace) is driven directly, every answer judged by the model.
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkConformance } from '../../properties/index.ts';
import { SubprocessIommu } from '../../properties/adapters/subprocess.ts';
import { ReferenceIommu } from '../../model/index.ts';
import { dispatch, type Call } from '../../model/ops.ts';

const SOURCE = fileURLToPath(new URL('../../examples/c/iommu.c', import.meta.url));
const BIN = fileURLToPath(new URL('../../bin/iommu-conformance.mjs', import.meta.url));

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
    expect(adapter.capabilities).toEqual({ deviceIdBits: 24, pasidReplace: true });
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

  it('replacePasid (v2): declared, moves the PASID to the new domain in one step, every answer conforming', async () => {
    const a = await SubprocessIommu.start(`"${good}"`, { cwd: dir });
    adapters.push(a);
    expect(a.capabilities?.pasidReplace).toBe(true);
    await a.reset();
    const model = new ReferenceIommu(a.capabilities);
    const answers: unknown[] = [];
    const run = async (call: Call): Promise<unknown> => {
      const answer = await dispatch(a, call);
      const verdict = model.check(call, answer);
      expect(verdict, `${JSON.stringify(call, (_, v) => (typeof v === 'bigint' ? `0x${v.toString(16)}` : v))} answered ${JSON.stringify(answer, (_, v) => (typeof v === 'bigint' ? `0x${v.toString(16)}` : v))}`).toMatchObject({ conforming: true });
      answers.push(answer);
      return answer;
    };
    const OK = { ok: true };
    const err = (error: string) => ({ ok: false, error });
    const read = (pasid: number | null, iova = 0x1234n): Call => ({ op: 'translate', device: 0, pasid, iova, access: 'read' });

    // Two paging domains with the same IOVA page mapped to different PAs; a third, unmapped.
    expect(await run({ op: 'createDomain', id: 1 })).toEqual(OK);
    expect(await run({ op: 'createDomain', id: 2 })).toEqual(OK);
    expect(await run({ op: 'createDomain', id: 3, options: { invalidation: 'deferred' } })).toEqual(OK);
    expect(await run({ op: 'map', domain: 1, iova: 0x1000n, pa: 0x100000n, size: 0x1000n, prot: 3 })).toEqual(OK);
    expect(await run({ op: 'map', domain: 2, iova: 0x1000n, pa: 0x200000n, size: 0x1000n, prot: 1 })).toEqual(OK);

    // ENOENT: (device, PASID) has no domain yet, or the domain is unknown; nothing attached by it.
    expect(await run({ op: 'replacePasid', device: 0, pasid: 1, domain: 2 })).toEqual(err('ENOENT'));
    expect(await run(read(1))).toEqual({ ok: false, fault: 'blocked' });
    expect(await run({ op: 'attachPasid', device: 0, pasid: 1, domain: 1 })).toEqual(OK);
    expect(await run({ op: 'attachPasid', device: 0, pasid: 1, domain: 1 })).toEqual(err('EBUSY')); // kept (v2 allows either)
    expect(await run(read(1))).toEqual({ ok: true, pa: 0x100234n }); // fills the IOTLB
    expect(await run({ op: 'replacePasid', device: 0, pasid: 1, domain: 9 })).toEqual(err('ENOENT'));
    expect(await run({ op: 'replacePasid', device: 0, pasid: 2, domain: 2 })).toEqual(err('ENOENT'));
    expect(await run({ op: 'replacePasid', device: 1, pasid: 1, domain: 2 })).toEqual(err('ENOENT'));
    expect(await run(read(1))).toEqual({ ok: true, pa: 0x100234n }); // a failed replace keeps the old domain
    expect(await run(read(2))).toEqual({ ok: false, fault: 'blocked' });

    // Bad arguments: EINVAL, checked first (the domain 9 is unknown too), and nothing changes.
    for (const bad of [
      { device: 0, pasid: 0, domain: 2 },
      { device: 0, pasid: 1 << 20, domain: 2 },
      { device: 0, pasid: 1.5, domain: 9 },
      { device: 0, pasid: null as unknown as number, domain: 2 },
      { device: -1, pasid: 1, domain: 2 },
      { device: 1 << 24, pasid: 1, domain: 2 },
      { device: 0, pasid: 1, domain: -1 },
      { device: 0, pasid: 1, domain: 2 ** 32 },
      { device: 0, pasid: 1, domain: 2.5 },
    ])
      expect(await run({ op: 'replacePasid', ...bad })).toEqual(err('EINVAL'));
    expect(await run(read(1))).toEqual({ ok: true, pa: 0x100234n });

    // The replace itself: right after a (cacheable) translate through domain 1, domain 2's PA only.
    expect(await run({ op: 'replacePasid', device: 0, pasid: 1, domain: 2 })).toEqual(OK);
    expect(await run(read(1))).toEqual({ ok: true, pa: 0x200234n });
    expect(await run({ op: 'translate', device: 0, pasid: 1, iova: 0x1234n, access: 'write' })).toEqual({ ok: false, fault: 'permission' }); // domain 2's prot
    expect(await run(read(null))).toEqual({ ok: false, fault: 'blocked' }); // RID traffic unaffected
    expect(await run({ op: 'destroyDomain', id: 2 })).toEqual(err('EBUSY')); // now in use
    expect(await run({ op: 'destroyDomain', id: 1 })).toEqual(OK); // no longer in use

    // Same domain: succeeds and changes nothing.
    expect(await run({ op: 'replacePasid', device: 0, pasid: 1, domain: 2 })).toEqual(OK);
    expect(await run(read(1))).toEqual({ ok: true, pa: 0x200234n });

    // Onto an empty deferred domain: nothing of domain 2 (cached or not) is seen through the PASID.
    expect(await run({ op: 'replacePasid', device: 0, pasid: 1, domain: 3 })).toEqual(OK);
    expect(await run(read(1))).toEqual({ ok: false, fault: 'not-mapped' });
    expect(await run({ op: 'detachPasid', device: 0, pasid: 1 })).toEqual(OK);
    expect(await run({ op: 'replacePasid', device: 0, pasid: 1, domain: 2 })).toEqual(err('ENOENT')); // detached: none to replace
    expect(await run(read(1))).toEqual({ ok: false, fault: 'blocked' });
    expect(answers.length).toBeGreaterThan(30);
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
