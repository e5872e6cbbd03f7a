// Bad CLI input (issue 17): one clear line and exit 2, before any campaign.
import { describe, expect, it } from 'vitest';
import { runCli } from '../../properties/cli/program.ts';

async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runCli(argv, { out: (t) => void (out += t), err: (t) => void (err += t), isTTY: false });
  return { code, out, err };
}

describe('iommu-conformance: bounds of numeric flags', () => {
  it('refuses a --step-timeout above 2^31-1 ms (it would fire at once)', async () => {
    const r = await cli('check', '--exec', 'true', '--step-timeout', String(2 ** 31), '--runs', '1');
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/--step-timeout must be an integer from 1 to 2147483647/);
    expect(r.err).not.toMatch(/TimeoutOverflowWarning/);
    expect(r.out).toBe('');
  });

  it('refuses more --workers than 16', async () => {
    const r = await cli('check', '--workers', '100', '--runs', '1');
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/--workers must be an integer from 1 to 16, not "100"/);
    expect(r.out).toBe('');
  });
});

describe('literal: a misbehaving answer as text', () => {
  it('a circular answer, a throwing getter and a throwing Proxy never throw', async () => {
    const { literal } = await import('../../properties/report/format.ts');
    const a: Record<string, unknown> = { ok: true };
    a.self = a;
    expect(literal(a)).toBe('{ ok: true, self: <circular> }');
    const arr: unknown[] = [1];
    arr.push(arr);
    expect(literal(arr)).toBe('[1, <circular>]');
    // The same object twice, not inside itself, is not circular.
    const shared = { x: 1n };
    expect(literal([shared, shared])).toBe('[{ x: 0x1n }, { x: 0x1n }]');
    const getter = Object.defineProperty({}, 'ok', { enumerable: true, get: () => { throw new Error('boom'); } });
    expect(literal(getter)).toBe('<unreadable: boom>');
    const proxy = new Proxy({}, { ownKeys: () => { throw new Error('trap'); } });
    expect(literal(proxy)).toBe('<unreadable: trap>');
  });
});

describe('RunContext: an answer that throws when read', () => {
  it('is a THREW failure, not a crash of the run', async () => {
    const { RunContext } = await import('../../properties/run/run.ts');
    const { ReferenceIommu } = await import('../../model/reference.ts');
    const impl = new ReferenceIommu();
    const hostile = new Proxy(impl, {
      get: (t, k, r) => (k === 'createDomain' ? () => new Proxy({}, { get: () => { throw new Error('trap'); } }) : Reflect.get(t, k, r)),
    });
    const ctx = new RunContext(hostile, { capabilities: undefined, kinds: [], representableOnly: false, stepTimeoutMs: 1000 });
    let caught: unknown;
    try {
      await ctx.step({ op: 'createDomain', id: 1 }, false, false);
    } catch (e) {
      caught = e;
    }
    expect((caught as { property?: string }).property).toBe('THREW');
    expect(String((caught as Error).message)).toMatch(/trap/);
  });
});
