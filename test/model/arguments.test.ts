// Directed tests of the model: argument validity (CONTRACT.md, "Values"), capabilities that narrow
// the ranges, and how check() judges malformed answers.
import { describe, expect, it } from 'vitest';
import { ReferenceIommu, type Call, type Capabilities } from '../../model/index.ts';
import { EINVAL } from '../helpers/answers.ts';


/** Domain 1 paging (page 0 mapped; dirty tracking when declared), domain 2 identity; device 0 RID on 1, (0, 7) on 1. */
function setup(caps: Capabilities = { pasidReplace: true, dirtyTracking: true }): ReferenceIommu {
  const m = new ReferenceIommu(caps);
  expect(m.createDomain(1, caps.dirtyTracking ? { dirtyTracking: true } : undefined)).toEqual({ ok: true });
  expect(m.createDomain(2, { type: 'identity' })).toEqual({ ok: true });
  expect(m.attachDevice(0, 1)).toEqual({ ok: true });
  expect(m.attachPasid(0, 7, 1)).toEqual({ ok: true });
  expect(m.map(1, 0n, 0x10_0000n, 0x1000n, 3)).toEqual({ ok: true });
  return m;
}

/** A valid call of every method on setup(); each case below spoils one argument. */
const BASE: Record<Call['op'], Call> = {
  createDomain: { op: 'createDomain', id: 5 },
  destroyDomain: { op: 'destroyDomain', id: 2 },
  attachDevice: { op: 'attachDevice', device: 3, domain: 1 },
  detachDevice: { op: 'detachDevice', device: 0 },
  attachPasid: { op: 'attachPasid', device: 0, pasid: 1, domain: 1 },
  detachPasid: { op: 'detachPasid', device: 0, pasid: 7 },
  map: { op: 'map', domain: 1, iova: 0x10000n, pa: 0x20000n, size: 0x1000n, prot: 3 },
  unmap: { op: 'unmap', domain: 1, iova: 0n, size: 0x1000n },
  flush: { op: 'flush', domain: 1 },
  translate: { op: 'translate', device: 0, pasid: null, iova: 0n, access: 'read' },
  replacePasid: { op: 'replacePasid', device: 0, pasid: 7, domain: 2 },
  setDirtyTracking: { op: 'setDirtyTracking', domain: 1, enabled: true },
  readDirty: { op: 'readDirty', domain: 1, iova: 0n, size: 0x1000n, clear: true },
};

const BAD_BOOLEAN: [string, unknown][] = [
  ['a number', 1],
  ['a string', 'true'],
  ['undefined', undefined],
  ['null', null],
];

const BAD_INTEGER: [string, unknown][] = [
  ['negative', -1],
  ['fractional', 1.5],
  ['NaN', NaN],
  ['Infinity', Infinity],
  ['-Infinity', -Infinity],
  ['a string', '1'],
  ['a bigint', 1n],
  ['undefined', undefined],
  ['null', null],
  ['2^32', 2 ** 32],
];
const BAD_BIGINT: [string, unknown][] = [
  ['a number', 4096],
  ['a negative bigint', -4096n],
  ['2^64', 1n << 64n],
  ['2^64 + 4096', (1n << 64n) + 4096n],
  ['a hex string', '0x1000'],
  ['undefined', undefined],
  ['null', null],
  ['NaN', NaN],
];
const BAD_PROT: [string, unknown][] = [
  ['0', 0],
  ['4', 4],
  ['7', 7],
  ['1.5', 1.5],
  ["'3'", '3'],
  ['3n', 3n],
  ['-1', -1],
  ['NaN', NaN],
  ['undefined', undefined],
];
const BAD_ACCESS: [string, unknown][] = [
  ["'exec'", 'exec'],
  ["'READ'", 'READ'],
  ['1', 1],
  ['undefined', undefined],
];
const BAD_PASID_NUMBER: [string, unknown][] = [
  ['0', 0],
  ['2^20', 2 ** 20],
  ['-1', -1],
  ['1.5', 1.5],
  ["'1'", '1'],
  ['null', null],
  ['undefined', undefined],
  ['NaN', NaN],
];
const BAD_TRANSLATE_PASID: [string, unknown][] = [
  ['undefined (null is RID)', undefined],
  ['0', 0],
  ['2^20', 2 ** 20],
  ['1.5', 1.5],
  ["'1'", '1'],
  ['NaN', NaN],
];

const FIELDS: [Call['op'], string, [string, unknown][]][] = [
  ['createDomain', 'id', BAD_INTEGER],
  ['destroyDomain', 'id', BAD_INTEGER],
  ['attachDevice', 'device', BAD_INTEGER],
  ['attachDevice', 'domain', BAD_INTEGER],
  ['detachDevice', 'device', BAD_INTEGER],
  ['attachPasid', 'device', BAD_INTEGER],
  ['attachPasid', 'pasid', BAD_PASID_NUMBER],
  ['attachPasid', 'domain', BAD_INTEGER],
  ['detachPasid', 'device', BAD_INTEGER],
  ['detachPasid', 'pasid', BAD_PASID_NUMBER],
  ['map', 'domain', BAD_INTEGER],
  ['map', 'iova', BAD_BIGINT],
  ['map', 'pa', BAD_BIGINT],
  ['map', 'size', BAD_BIGINT],
  ['map', 'prot', BAD_PROT],
  ['unmap', 'domain', BAD_INTEGER],
  ['unmap', 'iova', BAD_BIGINT],
  ['unmap', 'size', BAD_BIGINT],
  ['flush', 'domain', BAD_INTEGER],
  ['translate', 'device', BAD_INTEGER],
  ['translate', 'pasid', BAD_TRANSLATE_PASID],
  ['translate', 'iova', BAD_BIGINT],
  ['translate', 'access', BAD_ACCESS],
  ['replacePasid', 'device', BAD_INTEGER],
  ['replacePasid', 'pasid', BAD_PASID_NUMBER],
  ['replacePasid', 'domain', BAD_INTEGER],
  ['setDirtyTracking', 'domain', BAD_INTEGER],
  ['setDirtyTracking', 'enabled', BAD_BOOLEAN],
  ['readDirty', 'domain', BAD_INTEGER],
  ['readDirty', 'iova', BAD_BIGINT],
  ['readDirty', 'size', BAD_BIGINT],
  ['readDirty', 'clear', BAD_BOOLEAN],
];

const CASES = FIELDS.flatMap(([op, field, bads]) =>
  bads.map(([what, value]) => ({ name: `${op} ${field} ${what}`, call: { ...BASE[op], [field]: value } as Call })),
);

describe('argument validity', () => {
  it.each(Object.values(BASE).map((call) => [call.op, call] as const))('the valid base call of %s succeeds', (_op, call) => {
    const m = setup();
    expect(m.allowedErrors(call)).toMatchObject({ errors: [], mayAlsoSucceed: false });
    expect((m.perform(call) as { ok: boolean }).ok).toBe(true);
  });

  it.each(CASES.map((c) => [c.name, c.call] as const))('%s is EINVAL and nothing else', (_name, call) => {
    const m = setup();
    const before = JSON.stringify(m.domainViews(), (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v));
    expect(m.perform(call)).toEqual(EINVAL);
    expect(m.allowedErrors(call)).toMatchObject({ errors: ['EINVAL'], mayAlsoSucceed: false });
    if (call.op === 'translate') {
      expect(m.allowedTranslations(call.device, call.pasid, call.iova, call.access)).toEqual([EINVAL]);
      expect(m.check(call, { ok: false, fault: 'blocked' }).conforming).toBe(false);
      expect(m.check(call, { ok: false, fault: 'not-mapped' }).conforming).toBe(false);
    } else {
      expect(m.check(call, { ok: true, value: 0n }).conforming).toBe(false);
      expect(m.check(call, { ok: false, error: 'ENOENT' }).conforming).toBe(false);
    }
    expect(m.check(call, EINVAL)).toMatchObject({ conforming: true, stale: false });
    const after = JSON.stringify(m.domainViews(), (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v));
    expect(after).toBe(before);
  });

  it('accepts the ends of every range', () => {
    const m = new ReferenceIommu();
    const top = 2 ** 32 - 1;
    expect(m.createDomain(0)).toEqual({ ok: true });
    expect(m.createDomain(top)).toEqual({ ok: true });
    expect(m.attachDevice(top, top)).toEqual({ ok: true });
    expect(m.attachPasid(top, 2 ** 20 - 1, 0)).toEqual({ ok: true });
    expect(m.attachPasid(0, 1, 0)).toEqual({ ok: true });
    expect(m.translate(top, 2 ** 20 - 1, (1n << 64n) - 1n, 'write')).toEqual({ ok: false, fault: 'not-mapped' });
    expect(m.translate(top, null, (1n << 64n) - 1n, 'read')).toEqual({ ok: false, fault: 'not-mapped' });
  });

  it('decision (i.8): -0 is the integer 0', () => {
    const m = new ReferenceIommu();
    expect(m.createDomain(-0)).toEqual({ ok: true });
    expect(m.createDomain(0)).toEqual({ ok: false, error: 'EEXIST' });
    expect(m.attachDevice(-0, 0)).toEqual({ ok: true });
    expect(m.translate(0, null, 0n, 'read')).toEqual({ ok: false, fault: 'not-mapped' });
  });

  it('deviceIdBits and pasidBits narrow the ranges', () => {
    const m = new ReferenceIommu({ deviceIdBits: 24, pasidBits: 8 });
    expect(m.createDomain(1)).toEqual({ ok: true });
    expect(m.attachDevice(2 ** 24, 1)).toEqual(EINVAL);
    expect(m.attachDevice(2 ** 24 - 1, 1)).toEqual({ ok: true });
    expect(m.detachDevice(2 ** 24)).toEqual(EINVAL);
    expect(m.attachPasid(0, 256, 1)).toEqual(EINVAL);
    expect(m.attachPasid(2 ** 24, 1, 1)).toEqual(EINVAL);
    expect(m.attachPasid(0, 255, 1)).toEqual({ ok: true });
    expect(m.detachPasid(0, 256)).toEqual(EINVAL);
    expect(m.translate(0, 256, 0n, 'read')).toEqual(EINVAL);
    expect(m.translate(2 ** 24, null, 0n, 'read')).toEqual(EINVAL);
    expect(m.translate(0, 255, 0n, 'read')).toEqual({ ok: false, fault: 'not-mapped' });
    expect(m.translate(2 ** 24 - 1, null, 0n, 'read')).toEqual({ ok: false, fault: 'not-mapped' });
    // Domain ids are not narrowed by the capabilities.
    expect(m.createDomain(2 ** 32 - 1)).toEqual({ ok: true });
  });

  it('pasidBits 1 leaves PASID 1 only', () => {
    const m = new ReferenceIommu({ pasidBits: 1 });
    m.createDomain(1);
    expect(m.attachPasid(0, 2, 1)).toEqual(EINVAL);
    expect(m.attachPasid(0, 1, 1)).toEqual({ ok: true });
  });

  it('argument validity comes first', () => {
    const m = new ReferenceIommu();
    // map on an unknown domain with a number iova: EINVAL only, not ENOENT.
    const map = { op: 'map', domain: 9, iova: 0, pa: 0n, size: 0x1000n, prot: 3 } as unknown as Call;
    expect(m.allowedErrors(map).errors).toEqual(['EINVAL']);
    expect(m.check(map, { ok: false, error: 'ENOENT' }).conforming).toBe(false);
    // translate with bad arguments when nothing is attached: EINVAL, not 'blocked'.
    const tr = { op: 'translate', device: -1, pasid: null, iova: 0n, access: 'read' } as Call;
    expect(m.perform(tr)).toEqual(EINVAL);
    expect(m.check(tr, { ok: false, fault: 'blocked' }).conforming).toBe(false);
    expect(m.translate(0, undefined as unknown as null, 0n, 'read')).toEqual(EINVAL);
    // Unknown ids with bad arguments: EINVAL only.
    expect(m.allowedErrors({ op: 'destroyDomain', id: 2 ** 32 }).errors).toEqual(['EINVAL']);
    expect(m.allowedErrors({ op: 'detachDevice', device: -1 }).errors).toEqual(['EINVAL']);
    expect(m.allowedErrors({ op: 'attachPasid', device: 0, pasid: 0, domain: 9 }).errors).toEqual(['EINVAL']);
    expect(m.allowedErrors({ op: 'detachPasid', device: 0, pasid: 2 ** 20 }).errors).toEqual(['EINVAL']);
    expect(m.allowedErrors({ op: 'unmap', domain: 9, iova: 0n, size: 4096 } as unknown as Call).errors).toEqual(['EINVAL']);
    expect(m.allowedErrors({ op: 'flush', domain: 1.5 }).errors).toEqual(['EINVAL']);
    // A bad prot on an unknown domain whose range is also out of PA range: EINVAL only.
    expect(m.allowedErrors({ op: 'map', domain: 9, iova: 0n, pa: 1n << 52n, size: 0x1000n, prot: 4 }).errors).toEqual(['EINVAL']);
  });

  it('the methods never throw, whatever the arguments', () => {
    const m = setup();
    const junk: unknown[] = [undefined, null, {}, [], Symbol('x'), () => 0, -0, 1e300, 'x'];
    for (const j of junk) {
      const a = j as never;
      expect(() => m.createDomain(a, a)).not.toThrow();
      expect(() => m.destroyDomain(a)).not.toThrow();
      expect(() => m.attachDevice(a, a)).not.toThrow();
      expect(() => m.detachDevice(a)).not.toThrow();
      expect(() => m.attachPasid(a, a, a)).not.toThrow();
      expect(() => m.detachPasid(a, a)).not.toThrow();
      expect(() => m.map(a, a, a, a, a)).not.toThrow();
      expect(() => m.unmap(a, a, a)).not.toThrow();
      expect(() => m.flush(a)).not.toThrow();
      expect(() => m.translate(a, a, a, a)).not.toThrow();
    }
  });
});

describe('capabilities given to the model', () => {
  const BAD: [string, unknown][] = [
    ['deviceIdBits 0', { deviceIdBits: 0 }],
    ['deviceIdBits 33', { deviceIdBits: 33 }],
    ['deviceIdBits 1.5', { deviceIdBits: 1.5 }],
    ['pasidBits -1', { pasidBits: -1 }],
    ['pasidBits 21', { pasidBits: 21 }],
    ['maxDomains -1', { maxDomains: -1 }],
    ['maxDomains 1.5', { maxDomains: 1.5 }],
    ['levels []', { levels: [] }],
    ['levels [2]', { levels: [2] }],
    ['levels 4 (not an array)', { levels: 4 }],
    ['pageSizes without 4K', { pageSizes: [0x20_0000n] }],
    ['pageSizes with 8K', { pageSizes: [0x1000n, 0x2000n] }],
    ['pageSizes as numbers', { pageSizes: [4096] }],
    ["canonicalAddresses 'yes'", { canonicalAddresses: 'yes' }],
    ['nesting 1', { nesting: 1 }],
    ["pasidReplace 'true'", { pasidReplace: 'true' }],
    ['coarseFaults null', { coarseFaults: null }],
    ['a number', 3],
  ];
  it.each(BAD)('%s throws a TypeError', (_name, caps) => {
    expect(() => new ReferenceIommu(caps as Capabilities)).toThrow(TypeError);
  });

  it('valid capabilities are resolved with their defaults', () => {
    expect(new ReferenceIommu().resolvedCapabilities).toEqual({
      deviceIdBits: 32,
      pasidBits: 20,
      maxDomains: Infinity,
      levels: [3, 4, 5],
      pageSizes: [0x1000n, 0x20_0000n, 0x4000_0000n],
      canonicalAddresses: false,
      nesting: false,
      pasidReplace: false,
      coarseFaults: false,
      dirtyTracking: false,
    });
    const m = new ReferenceIommu({ levels: [5, 3, 5], pageSizes: [0x20_0000n, 0x1000n, 0x1000n], maxDomains: 0 });
    expect(m.resolvedCapabilities.levels).toEqual([3, 5]);
    expect(m.resolvedCapabilities.pageSizes).toEqual([0x1000n, 0x20_0000n]);
    expect(m.resolvedCapabilities.maxDomains).toBe(0);
    expect(m.capabilities).toEqual({ levels: [5, 3, 5], pageSizes: [0x20_0000n, 0x1000n, 0x1000n], maxDomains: 0 });
    expect(new ReferenceIommu().capabilities).toBeUndefined();
  });

  it('null capabilities mean all defaults, like undefined', () => {
    expect(new ReferenceIommu(null as unknown as Capabilities).resolvedCapabilities).toEqual(new ReferenceIommu().resolvedCapabilities);
  });
});

describe('check() and malformed answers', () => {
  const map: Call = { op: 'map', domain: 1, iova: 0x10000n, pa: 0x20000n, size: 0x1000n, prot: 3 };
  const unmap: Call = { op: 'unmap', domain: 1, iova: 0n, size: 0x2000n };
  const tr: Call = { op: 'translate', device: 0, pasid: null, iova: 0x10n, access: 'read' };

  const MALFORMED: [string, Call, unknown][] = [
    ["map {ok:'yes'}", map, { ok: 'yes' }],
    ['map undefined', map, undefined],
    ['map null', map, null],
    ["map 'ok'", map, 'ok'],
    ['map {}', map, {}],
    ['map {ok:false} without error', map, { ok: false }],
    ["map {ok:false, error:'EFAULT'}", map, { ok: false, error: 'EFAULT' }],
    ["map {ok:false, error:'einval'}", map, { ok: false, error: 'einval' }],
    ['map a Promise', map, Promise.resolve({ ok: true })],
    ['unmap {ok:true} without value', unmap, { ok: true }],
    ['unmap value a number', unmap, { ok: true, value: 4096 }],
    ['unmap value a hex string', unmap, { ok: true, value: '0x1000' }],
    ['translate {ok:true, pa:4096} (number)', tr, { ok: true, pa: 0x10_0010 }],
    ["translate {ok:true, pa:'0x100010'}", tr, { ok: true, pa: '0x100010' }],
    ["translate {ok:'yes'}", tr, { ok: 'yes' }],
    ['translate {ok:true} without pa', tr, { ok: true }],
    ["translate {ok:false, fault:'denied'}", tr, { ok: false, fault: 'denied' }],
    ["translate {ok:false, error:'ENOENT'}", tr, { ok: false, error: 'ENOENT' }],
    ['translate undefined', tr, undefined],
  ];
  it.each(MALFORMED)('%s is not conforming', (_name, call, answer) => {
    const m = setup();
    const verdict = m.check(call, answer);
    expect(verdict.conforming).toBe(false);
    if (!verdict.conforming) expect(verdict.actual).toMatch(/^malformed answer/);
  });

  it('a malformed or wrong answer changes nothing in the model', () => {
    const m = setup();
    expect(m.check(map, { ok: 'yes' }).conforming).toBe(false);
    expect(m.check(map, { ok: false, error: 'EEXIST' }).conforming).toBe(false);
    expect(m.translate(0, null, 0x10000n, 'read')).toEqual({ ok: false, fault: 'not-mapped' });
    expect(m.check(unmap, { ok: true, value: 0x2000n }).conforming).toBe(false); // only 0x1000 was mapped
    expect(m.translate(0, null, 0n, 'read')).toEqual({ ok: true, pa: 0x10_0000n });
  });

  it('a conforming success is applied to the model', () => {
    const m = setup();
    expect(m.check(map, { ok: true })).toMatchObject({ conforming: true, stale: false });
    expect(m.translate(0, null, 0x10008n, 'write')).toEqual({ ok: true, pa: 0x20008n });
    expect(m.check(unmap, { ok: true, value: 0x1000n })).toMatchObject({ conforming: true, stale: false });
    expect(m.translate(0, null, 0n, 'read')).toEqual({ ok: false, fault: 'not-mapped' });
  });

  it('allowedAnswers lists the success (with the unmapped bytes) and every allowed error', () => {
    const m = setup();
    expect(m.allowedAnswers(unmap)).toEqual([{ ok: true, value: 0x1000n }]);
    expect(m.allowedAnswers(map)).toEqual([{ ok: true }]);
    expect(m.allowedAnswers({ op: 'map', domain: 9, iova: 0n, pa: 0n, size: 0n, prot: 3 })).toEqual([
      { ok: false, error: 'ENOENT' },
      { ok: false, error: 'EINVAL' },
    ]);
    const capped = new ReferenceIommu({ maxDomains: 0 });
    expect(capped.allowedAnswers({ op: 'createDomain', id: 1 })).toEqual([{ ok: true }, { ok: false, error: 'ENOSPC' }]);
  });

  it('a value key in a void success is ignored', () => {
    const m = setup();
    expect(m.check(map, { ok: true, value: 42 })).toMatchObject({ conforming: true, stale: false });
    expect(m.check({ op: 'flush', domain: 1 }, { ok: true, value: 'anything' })).toMatchObject({ conforming: true, stale: false });
  });

  it('a non-conforming verdict names what was allowed and what came', () => {
    const m = setup();
    expect(m.check(tr, { ok: true, pa: 0x10n })).toEqual({ conforming: false, expected: 'pa 0x100010', actual: 'pa 0x10' });
    expect(m.check(unmap, { ok: true, value: 0n })).toEqual({ conforming: false, expected: 'ok 0x1000', actual: 'ok 0x0' });
    expect(m.check({ op: 'createDomain', id: 1 }, { ok: true })).toEqual({ conforming: false, expected: 'error EEXIST', actual: 'ok' });
  });
});
