import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import type { Call } from '../../model/types.ts';
import {
  decodeCapabilities,
  decodeResponse,
  encodeRequest,
  fromTraceJson,
  InexpressibleCall,
  toTraceJson,
} from '../../properties/adapters/protocol.ts';
import { formatCall } from '../../properties/report/format.ts';
import { AdapterError, SubprocessIommu } from '../../properties/adapters/subprocess.ts';

const FAKE = fileURLToPath(new URL('../fixtures/fake-process.mjs', import.meta.url));
const fake = (mode: string) => `"${process.execPath}" "${FAKE}" ${mode}`;

describe('encodeRequest', () => {
  it('spells every op as the contract does', () => {
    expect(encodeRequest({ op: 'map', domain: 1, iova: 0x1000n, pa: 0x200000n, size: 0x1000n, prot: 3 })).toBe(
      '{"op":"map","domain":1,"iova":"0x1000","pa":"0x200000","size":"0x1000","prot":3}',
    );
    expect(encodeRequest({ op: 'createDomain', id: 1 })).toBe('{"op":"createDomain","id":1}');
    expect(encodeRequest({ op: 'createDomain', id: 1, options: { levels: 3, pageSizes: [0x1000n, 0x200000n] } })).toBe(
      '{"op":"createDomain","id":1,"options":{"levels":3,"pageSizes":["0x1000","0x200000"]}}',
    );
    expect(encodeRequest({ op: 'createDomain', id: 2, options: { type: 'paging', aperture: 1n << 39n, unmap: 'whole' } })).toBe(
      '{"op":"createDomain","id":2,"options":{"type":"paging","aperture":"0x8000000000","unmap":"whole"}}',
    );
    expect(encodeRequest({ op: 'translate', device: 3, pasid: null, iova: 0xabcn, access: 'read' })).toBe(
      '{"op":"translate","device":3,"pasid":null,"iova":"0xabc","access":"read"}',
    );
    expect(encodeRequest({ op: 'attachPasid', device: 3, pasid: 5, domain: 9 })).toBe(
      '{"op":"attachPasid","device":3,"pasid":5,"domain":9}',
    );
    expect(encodeRequest({ op: 'unmap', domain: 1, iova: 0n, size: 0xffff_ffff_ffff_f000n })).toBe(
      '{"op":"unmap","domain":1,"iova":"0x0","size":"0xfffffffffffff000"}',
    );
  });
  it('sends what JSON can carry, refuses what it cannot', () => {
    expect(encodeRequest({ op: 'detachDevice', device: -1.5 })).toBe('{"op":"detachDevice","device":-1.5}');
    expect(encodeRequest({ op: 'createDomain', id: 1, options: { bogus: 1n } as never })).toBe(
      '{"op":"createDomain","id":1,"options":{"bogus":"0x1"}}',
    );
    const bad: Call[] = [
      { op: 'map', domain: 1, iova: 4096 as never, pa: 0n, size: 0x1000n, prot: 3 },
      { op: 'map', domain: 1, iova: -4096n, pa: 0n, size: 0x1000n, prot: 3 },
      { op: 'unmap', domain: 1, iova: 0n, size: 1n << 64n },
      { op: 'flush', domain: Number.NaN },
      { op: 'flush', domain: 1n as never },
      { op: 'translate', device: 1, pasid: undefined as never, iova: 0n, access: 'read' },
      { op: 'createDomain', id: 1, options: null as never },
      { op: 'createDomain', id: 1, options: { pageSizes: [4096] as never } },
    ];
    for (const c of bad) expect(() => encodeRequest(c), formatCall(c)).toThrow(InexpressibleCall);
  });
});

describe('decodeResponse', () => {
  const map: Call = { op: 'map', domain: 1, iova: 0n, pa: 0n, size: 0x1000n, prot: 3 };
  const unmap: Call = { op: 'unmap', domain: 1, iova: 0n, size: 0x1000n };
  const tr: Call = { op: 'translate', device: 1, pasid: null, iova: 0n, access: 'read' };
  it('accepts the shapes of the contract', () => {
    expect(decodeResponse(map, '{"ok":true}')).toEqual({ ok: true, answer: { ok: true } });
    expect(decodeResponse(map, ' {"ok":true,"value":17} ')).toEqual({ ok: true, answer: { ok: true } });
    expect(decodeResponse(map, '{"ok":false,"error":"EEXIST"}')).toEqual({ ok: true, answer: { ok: false, error: 'EEXIST' } });
    expect(decodeResponse(unmap, '{"ok":true,"value":"0x1000"}')).toEqual({ ok: true, answer: { ok: true, value: 0x1000n } });
    expect(decodeResponse(unmap, '{"ok":true,"value":"0X00FF"}'.replace('0X', '0x'))).toEqual({ ok: true, answer: { ok: true, value: 0xffn } });
    expect(decodeResponse(tr, '{"ok":true,"pa":"0x201000"}')).toEqual({ ok: true, answer: { ok: true, pa: 0x201000n } });
    expect(decodeResponse(tr, '{"ok":false,"fault":"permission"}')).toEqual({ ok: true, answer: { ok: false, fault: 'permission' } });
    expect(decodeResponse(tr, '{"ok":false,"error":"EINVAL"}')).toEqual({ ok: true, answer: { ok: false, error: 'EINVAL' } });
  });
  it.each([
    ['map', '', /not valid JSON/],
    ['map', 'hello', /not valid JSON/],
    ['map', '[1]', /not a JSON object but array/],
    ['map', '{"ok":"yes"}', /"ok" is missing or not a boolean/],
    ['map', '{"ok":true,"pa":"0x1"}', /unexpected key "pa"/],
    ['map', '{"ok":false}', /"error" is missing/],
    ['map', '{"ok":false,"error":"EPERM"}', /unknown errno "EPERM"/],
    ['map', '{"ok":false,"fault":"blocked"}', /unexpected key "fault"/],
    ['unmap', '{"ok":true}', /"value" \(bytes unmapped\) is missing/],
    ['unmap', '{"ok":true,"value":4096}', /not a hex string/],
    ['unmap', '{"ok":true,"value":"0x10000000000000000"}', /not a hex string of a u64/],
    ['unmap', '{"ok":true,"value":"4096"}', /not a hex string/],
    ['translate', '{"ok":true}', /"pa" is missing/],
    ['translate', '{"ok":true,"pa":"0xzz"}', /not a hex string/],
    ['translate', '{"ok":false,"fault":"denied"}', /unknown fault "denied"/],
    ['translate', '{"ok":false,"error":"ENOENT"}', /translate may only answer the error EINVAL/],
    ['translate', '{"ok":false}', /"fault" or "error" is missing/],
  ] as const)('rejects for %s the answer %s', (op, line, problem) => {
    const call = { map, unmap, translate: tr }[op];
    const d = decodeResponse(call, line);
    expect(d.ok).toBe(false);
    if (!d.ok) expect(d.problem).toMatch(problem);
  });
});

describe('decodeCapabilities', () => {
  it('reads capabilities with hex page sizes; an error answer means defaults', () => {
    expect(decodeCapabilities('{"ok":true,"value":{"deviceIdBits":24,"pageSizes":["0x1000","0x200000"],"levels":[3,4]}}')).toEqual({
      ok: true,
      answer: { deviceIdBits: 24, pageSizes: [0x1000n, 0x200000n], levels: [3, 4] },
    });
    expect(decodeCapabilities('{"ok":true,"value":{}}')).toEqual({ ok: true, answer: {} });
    expect(decodeCapabilities('{"ok":false,"error":"EINVAL"}')).toEqual({ ok: true, answer: undefined });
  });
  it.each([
    ['nope', /not valid JSON/],
    ['{"ok":true}', /"value" is undefined/],
    ['{"ok":true,"value":{"pageSizes":[4096]}}', /pageSizes holds 4096/],
    ['{"ok":true,"value":{"pageSizes":["0x200000"]}}', /holding 4K/],
    ['{"ok":true,"value":{"deviceIdBits":40}}', /deviceIdBits/],
    ['{"ok":true,"value":{"colour":"blue"}}', /unexpected key "colour"/],
  ])('rejects %s', (line, problem) => {
    const d = decodeCapabilities(line);
    expect(d.ok).toBe(false);
    if (!d.ok) expect(d.problem).toMatch(problem);
  });
});

describe('trace JSON', () => {
  it('round-trips calls with values JSON lacks', () => {
    const calls: Call[] = [
      { op: 'map', domain: 1, iova: -1n, pa: 1n << 70n, size: 0x1000n, prot: Number.NaN },
      { op: 'translate', device: 1, pasid: undefined as never, iova: 0n, access: 'read' },
      { op: 'createDomain', id: 1, options: { aperture: 1n << 39n, pageSizes: [0x1000n] } },
    ];
    const back = fromTraceJson(JSON.parse(JSON.stringify(toTraceJson(calls))));
    expect(back).toEqual(calls);
    expect('pasid' in (back as Record<string, unknown>[])[1]!).toBe(true);
  });
});

describe('SubprocessIommu', () => {
  const started: SubprocessIommu[] = [];
  const start = async (mode: string, stepTimeoutMs = 2000) => {
    const a = await SubprocessIommu.start(fake(mode), { stepTimeoutMs });
    started.push(a);
    return a;
  };
  afterEach(async () => {
    await Promise.all(started.splice(0).map((a) => a.close()));
  });

  it('talks to a correct process', async () => {
    const a = await start('good');
    expect(a.capabilities).toEqual({ deviceIdBits: 24, pageSizes: [0x1000n, 0x200000n] });
    await a.reset();
    expect(await a.createDomain(1, { levels: 3 })).toEqual({ ok: true });
    expect(await a.destroyDomain(2)).toEqual({ ok: false, error: 'ENOENT' });
    expect(await a.unmap(1, 0n, 0x3000n)).toEqual({ ok: true, value: 0x3000n });
    // Several calls at once are still sent one at a time, answered in order.
    const [t1, t2] = await Promise.all([a.translate(7, null, 0x1000n, 'read'), a.translate(8, 3, 0x1000n, 'write')]);
    expect(t1).toEqual({ ok: true, pa: 0x201000n });
    expect(t2).toEqual({ ok: false, fault: 'blocked' });
    // Arguments the protocol cannot carry are EINVAL without asking.
    expect(await a.map(1, 4096 as never, 0n, 0x1000n, 3)).toEqual({ ok: false, error: 'EINVAL' });
  });

  it('an error answer to capabilities means defaults', async () => {
    const a = await start('errcaps');
    expect(a.capabilities).toBeUndefined();
  });

  it('reports a crash with the request and the stderr tail, and restarts on reset', async () => {
    const a = await start('crash');
    await a.reset();
    const p = a.map(1, 0x1000n, 0x2000n, 0x1000n, 3);
    await expect(p).rejects.toBeInstanceOf(AdapterError);
    const e = (await p.catch((x: unknown) => x)) as AdapterError;
    expect(e.message).toContain('"op":"map"');
    expect(e.message).toContain('process exited with code 139');
    expect(e.message).toContain('segmentation fault (pretend)');
    expect(e.startup).toBe(false);
    // Until reset, calls are refused; reset restarts the process.
    await expect(a.flush(1)).rejects.toThrow(/failed earlier/);
    const pid = a.pid;
    await a.reset();
    expect(a.pid).not.toBe(pid);
    await expect(a.flush(1)).rejects.toThrow(/process exited with code 139/);
  });

  it('reports a hang as a timeout and kills the process', async () => {
    const a = await start('hang', 300);
    await a.reset();
    const t0 = Date.now();
    const e = (await a.flush(1).catch((x: unknown) => x)) as AdapterError;
    expect(e).toBeInstanceOf(AdapterError);
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(e.message).toContain('{"op":"flush","domain":1}');
    expect(e.message).toContain('no answer within 300 ms');
    expect(e.message).toContain('fake: got flush');
  });

  it('reports garbage with what came back', async () => {
    const a = await start('garbage');
    await a.reset();
    const e = (await a.translate(1, null, 0n, 'read').catch((x: unknown) => x)) as AdapterError;
    expect(e).toBeInstanceOf(AdapterError);
    expect(e.message).toMatch(/"op":"translate".*bad answer hello there: not valid JSON/);
  });

  it('refuses to start a command that exits, does not exist, or does not answer', async () => {
    const e1 = (await SubprocessIommu.start(fake('nocaps')).catch((x: unknown) => x)) as AdapterError;
    expect(e1).toBeInstanceOf(AdapterError);
    expect(e1.startup).toBe(true);
    expect(e1.message).toContain('process exited with code 3');
    expect(e1.message).toContain('fake: cannot open device');
    const e2 = (await SubprocessIommu.start('/nonexistent/iommu-xyz').catch((x: unknown) => x)) as AdapterError;
    expect(e2).toBeInstanceOf(AdapterError);
    expect(e2.startup).toBe(true);
    expect(e2.message).toMatch(/exited with code 127/);
    const e3 = (await SubprocessIommu.start(fake('silent'), { stepTimeoutMs: 300 }).catch((x: unknown) => x)) as AdapterError;
    expect(e3).toBeInstanceOf(AdapterError);
    expect(e3.message).toContain('no answer within 300 ms');
  });
});
