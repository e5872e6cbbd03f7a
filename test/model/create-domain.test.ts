// Directed tests of the model: createDomain's options, apertures and capabilities, EEXIST,
// ENOSPC and re-creation after destroy (CONTRACT.md, "The interface" and "createDomain").
import { describe, expect, it } from 'vitest';
import { ReferenceIommu, type Call, type DomainOptions } from '../../model/index.ts';
import { EINVAL } from '../helpers/answers.ts';
import { K4, M2, G1, p2 } from '../helpers/sizes.ts';
import { sorted } from '../helpers/text.ts';


const configOf = (m: ReferenceIommu, id: number) => m.domainViews().find((d) => d.id === id)?.config;

const DEFAULTS = { type: 'paging', levels: 4, pageSizes: [K4, M2, G1], invalidation: 'strict', unmap: 'split', aperture: p2(48) };

describe('createDomain options', () => {
  it('undefined (or omitted) options mean all defaults', () => {
    const m = new ReferenceIommu();
    expect(m.createDomain(1)).toEqual({ ok: true });
    expect(m.createDomain(2, undefined)).toEqual({ ok: true });
    expect(m.createDomain(3, {})).toEqual({ ok: true });
    for (const id of [1, 2, 3]) expect(configOf(m, id)).toEqual(DEFAULTS);
    expect(m.domainViews().every((d) => d.mappings.length === 0 && d.stale.length === 0)).toBe(true);
  });

  it('decision (a): a key whose value is undefined counts as absent', () => {
    const m = new ReferenceIommu();
    const options = { type: undefined, levels: undefined, pageSizes: undefined, invalidation: undefined, unmap: undefined, aperture: undefined };
    expect(m.createDomain(1, options)).toEqual({ ok: true });
    expect(configOf(m, 1)).toEqual(DEFAULTS);
    expect(m.createDomain(2, { type: 'identity', levels: undefined, aperture: undefined })).toEqual({ ok: true });
    expect(configOf(m, 2)).toEqual({ type: 'identity' });
    expect(m.createDomain(3, { bogus: undefined } as DomainOptions)).toEqual({ ok: true });
  });

  const BAD: [string, unknown][] = [
    ['null', null],
    ['a number', 4],
    ['a string', 'paging'],
    ['true', true],
    ['a function', () => ({})],
    ['decision (a): an empty array', []],
    ['decision (a): an array of entries', [['type', 'paging']]],
    ['an unknown key', { type: 'paging', colour: 'blue' }],
    ['an unknown key only', { Type: 'paging' }],
    ["type 'dma'", { type: 'dma' }],
    ...(['type', 'levels', 'pageSizes', 'invalidation', 'unmap', 'aperture'] as const).map((key): [string, unknown] => [`${key} null`, { [key]: null }]),
    ['levels null on identity', { type: 'identity', levels: null }],
    ['levels 2', { levels: 2 }],
    ['levels 6', { levels: 6 }],
    ["levels '4'", { levels: '4' }],
    ['levels 4n', { levels: 4n }],
    ['pageSizes without 4K', { pageSizes: [M2, G1] }],
    ['pageSizes empty', { pageSizes: [] }],
    ['pageSizes with 8K', { pageSizes: [K4, 0x2000n] }],
    ['pageSizes with 512G', { pageSizes: [K4, p2(39)] }],
    ['pageSizes as numbers', { pageSizes: [4096] }],
    ['pageSizes a Set', { pageSizes: new Set([K4]) }],
    ['pageSizes a single bigint', { pageSizes: K4 }],
    ["invalidation 'lazy'", { invalidation: 'lazy' }],
    ["unmap 'partial'", { unmap: 'partial' }],
    ...(['levels', 'pageSizes', 'invalidation', 'unmap', 'aperture'] as const).flatMap((key) => {
      const value = { levels: 4, pageSizes: [K4], invalidation: 'strict', unmap: 'split', aperture: p2(30) }[key];
      return (['identity', 'blocked'] as const).map((type): [string, unknown] => [`${key} on ${type}`, { type, [key]: value }]);
    }),
    ['aperture 2^20 (below 2^21)', { aperture: p2(20) }],
    ['aperture 0', { aperture: 0n }],
    ['aperture not a power of two', { aperture: p2(21) + K4 }],
    ['aperture 3 * 2^30', { aperture: 3n * G1 }],
    ['aperture 2^49 with levels 4', { aperture: p2(49) }],
    ['aperture 2^40 with levels 3', { levels: 3, aperture: p2(40) }],
    ['aperture 2^58 with levels 5', { levels: 5, aperture: p2(58) }],
    ['aperture 2^64', { aperture: p2(64) }],
    ['aperture a number', { aperture: 2 ** 30 }],
    ['aperture negative', { aperture: -p2(30) }],
  ];
  it.each(BAD)('%s is EINVAL', (_name, options) => {
    const m = new ReferenceIommu();
    const call = { op: 'createDomain', id: 1, options } as Call;
    expect(m.perform(call)).toEqual(EINVAL);
    expect(m.allowedErrors(call)).toMatchObject({ errors: ['EINVAL'], mayAlsoSucceed: false });
    expect(m.check(call, { ok: true }).conforming).toBe(false);
    expect(m.check(call, EINVAL)).toMatchObject({ conforming: true, stale: false });
    expect(m.domainViews()).toEqual([]);
  });

  const GOOD: [string, DomainOptions, object][] = [
    ["type 'paging'", { type: 'paging' }, DEFAULTS],
    ["type 'identity'", { type: 'identity' }, { type: 'identity' }],
    ["type 'blocked'", { type: 'blocked' }, { type: 'blocked' }],
    ['levels 3: aperture 2^39', { levels: 3 }, { ...DEFAULTS, levels: 3, aperture: p2(39) }],
    ['levels 5: aperture 2^57', { levels: 5 }, { ...DEFAULTS, levels: 5, aperture: p2(57) }],
    ['aperture 2^21 (the least)', { aperture: p2(21) }, { ...DEFAULTS, aperture: p2(21) }],
    ['aperture 2^48 with levels 4', { aperture: p2(48) }, DEFAULTS],
    ['aperture 2^39 with levels 3', { levels: 3, aperture: p2(39) }, { ...DEFAULTS, levels: 3, aperture: p2(39) }],
    ['aperture 2^57 with levels 5', { levels: 5, aperture: p2(57) }, { ...DEFAULTS, levels: 5, aperture: p2(57) }],
    ['pageSizes [4K]', { pageSizes: [K4] }, { ...DEFAULTS, pageSizes: [K4] }],
    ['pageSizes repeats mean nothing', { pageSizes: [M2, K4, K4, M2] }, { ...DEFAULTS, pageSizes: [K4, M2] }],
    ["invalidation 'deferred'", { invalidation: 'deferred' }, { ...DEFAULTS, invalidation: 'deferred' }],
    ["unmap 'whole'", { unmap: 'whole' }, { ...DEFAULTS, unmap: 'whole' }],
    [
      'every option at once',
      { type: 'paging', levels: 3, pageSizes: [K4, G1], invalidation: 'deferred', unmap: 'whole', aperture: p2(30) },
      { type: 'paging', levels: 3, pageSizes: [K4, G1], invalidation: 'deferred', unmap: 'whole', aperture: p2(30) },
    ],
  ];
  it.each(GOOD)('%s succeeds', (_name, options, config) => {
    const m = new ReferenceIommu();
    const call: Call = { op: 'createDomain', id: 1, options };
    expect(m.allowedErrors(call)).toMatchObject({ errors: [], mayAlsoSucceed: false });
    expect(m.perform(call)).toEqual({ ok: true });
    expect(configOf(m, 1)).toEqual(config);
  });

  it('the aperture bounds what can be mapped', () => {
    const m = new ReferenceIommu();
    m.createDomain(1, { aperture: p2(21) });
    expect(m.map(1, p2(21) - K4, 0n, K4, 3)).toEqual({ ok: true });
    expect(m.map(1, p2(21), 0n, K4, 3)).toEqual({ ok: false, error: 'ERANGE' });
    m.createDomain(2, { levels: 5 });
    expect(m.map(2, p2(57) - K4, 0n, K4, 3)).toEqual({ ok: true });
    expect(m.map(2, p2(57), 0n, K4, 3)).toEqual({ ok: false, error: 'ERANGE' });
  });
});

describe('createDomain and capabilities', () => {
  it('levels outside the declared set are EINVAL; default 4 if declared, else the largest', () => {
    const only3 = new ReferenceIommu({ levels: [3] });
    expect(only3.createDomain(1, { levels: 4 })).toEqual(EINVAL);
    expect(only3.createDomain(1, { levels: 5 })).toEqual(EINVAL);
    expect(only3.createDomain(1)).toEqual({ ok: true });
    expect(configOf(only3, 1)).toMatchObject({ levels: 3, aperture: p2(39) });

    const m35 = new ReferenceIommu({ levels: [3, 5] });
    expect(m35.createDomain(1)).toEqual({ ok: true });
    expect(configOf(m35, 1)).toMatchObject({ levels: 5, aperture: p2(57) });
    expect(m35.createDomain(2, { levels: 4 })).toEqual(EINVAL);

    const m45 = new ReferenceIommu({ levels: [5, 4] });
    expect(m45.createDomain(1)).toEqual({ ok: true });
    expect(configOf(m45, 1)).toMatchObject({ levels: 4, aperture: p2(48) });
    expect(m45.createDomain(2, { levels: 3 })).toEqual(EINVAL);
    // The aperture limit follows the given levels within the declared set.
    expect(m45.createDomain(3, { levels: 5, aperture: p2(57) })).toEqual({ ok: true });
    expect(only3.createDomain(2, { aperture: p2(40) })).toEqual(EINVAL);
  });

  it('pageSizes outside the declared set are EINVAL; the default is the declared set', () => {
    const m = new ReferenceIommu({ pageSizes: [K4, M2] });
    expect(m.createDomain(1)).toEqual({ ok: true });
    expect(configOf(m, 1)).toMatchObject({ pageSizes: [K4, M2] });
    expect(m.createDomain(2, { pageSizes: [K4, G1] })).toEqual(EINVAL);
    expect(m.createDomain(2, { pageSizes: [K4] })).toEqual({ ok: true });
    const only4k = new ReferenceIommu({ pageSizes: [K4] });
    expect(only4k.createDomain(1, { pageSizes: [K4, M2] })).toEqual(EINVAL);
  });

  it('canonicalAddresses: the default aperture is the lower half, 2^(11 + 9*levels); larger is EINVAL', () => {
    const m = new ReferenceIommu({ canonicalAddresses: true });
    expect(m.createDomain(1)).toEqual({ ok: true });
    expect(configOf(m, 1)).toMatchObject({ levels: 4, aperture: p2(47) });
    expect(m.createDomain(2, { levels: 3 })).toEqual({ ok: true });
    expect(configOf(m, 2)).toMatchObject({ aperture: p2(38) });
    expect(m.createDomain(3, { levels: 5 })).toEqual({ ok: true });
    expect(configOf(m, 3)).toMatchObject({ aperture: p2(56) });
    expect(m.createDomain(4, { aperture: p2(48) })).toEqual(EINVAL);
    expect(m.createDomain(4, { levels: 5, aperture: p2(57) })).toEqual(EINVAL);
    expect(m.createDomain(4, { aperture: p2(47) })).toEqual({ ok: true });
    expect(m.map(1, p2(47) - K4, 0n, K4, 3)).toEqual({ ok: true });
    expect(m.map(1, p2(47), 0n, K4, 3)).toEqual({ ok: false, error: 'ERANGE' });
    // Identity and blocked domains have no aperture at all.
    expect(m.createDomain(5, { type: 'identity' })).toEqual({ ok: true });
  });
});

describe('createDomain EEXIST and ENOSPC', () => {
  it('EEXIST when the id is in use, whatever the type', () => {
    const m = new ReferenceIommu();
    m.createDomain(1, { type: 'blocked' });
    const call: Call = { op: 'createDomain', id: 1 };
    expect(m.perform(call)).toEqual({ ok: false, error: 'EEXIST' });
    expect(m.allowedErrors(call)).toMatchObject({ errors: ['EEXIST'], mayAlsoSucceed: false });
    expect(configOf(m, 1)).toEqual({ type: 'blocked' });
  });

  it('decision (b): bad options and an id in use: EINVAL or EEXIST, the model answers EINVAL', () => {
    const m = new ReferenceIommu();
    m.createDomain(1);
    const call: Call = { op: 'createDomain', id: 1, options: { levels: 2 as 3 } };
    expect(sorted(m.allowedErrors(call).errors)).toEqual(['EEXIST', 'EINVAL']);
    expect(m.perform(call)).toEqual(EINVAL);
    expect(m.check(call, { ok: false, error: 'EEXIST' }).conforming).toBe(true);
    expect(m.check(call, EINVAL).conforming).toBe(true);
    expect(m.check(call, { ok: true }).conforming).toBe(false);
    expect(m.check(call, { ok: false, error: 'ENOSPC' }).conforming).toBe(false);
  });

  it('decision (c): with maxDomains domains, ENOSPC or success; the model answers ENOSPC and follows a success', () => {
    const m = new ReferenceIommu({ maxDomains: 2 });
    expect(m.createDomain(1)).toEqual({ ok: true });
    expect(m.createDomain(2)).toEqual({ ok: true });
    const third: Call = { op: 'createDomain', id: 3 };
    expect(m.allowedErrors(third)).toMatchObject({ errors: ['ENOSPC'], mayAlsoSucceed: true });
    expect(m.perform(third)).toEqual({ ok: false, error: 'ENOSPC' });
    expect(m.check(third, { ok: false, error: 'ENOSPC' })).toMatchObject({ conforming: true, stale: false });
    expect(m.domainViews().map((d) => d.id)).toEqual([1, 2]);
    expect(m.check(third, { ok: true })).toMatchObject({ conforming: true, stale: false });
    expect(m.domainViews().map((d) => d.id)).toEqual([1, 2, 3]);
    // Now 3 exist: a fourth may still be refused or succeed.
    expect(m.allowedErrors({ op: 'createDomain', id: 4 })).toMatchObject({ errors: ['ENOSPC'], mayAlsoSucceed: true });
    // Other errors still hold: EEXIST with the id in use, and then no success.
    const again: Call = { op: 'createDomain', id: 3 };
    expect(sorted(m.allowedErrors(again).errors)).toEqual(['EEXIST', 'ENOSPC']);
    expect(m.allowedErrors(again).mayAlsoSucceed).toBe(false);
    expect(m.check(again, { ok: true }).conforming).toBe(false);
    const bad: Call = { op: 'createDomain', id: 4, options: { unmap: 'partial' as 'split' } };
    expect(sorted(m.allowedErrors(bad).errors)).toEqual(['EINVAL', 'ENOSPC']);
    expect(m.perform(bad)).toEqual(EINVAL);
    // Below the limit, ENOSPC is not allowed.
    m.destroyDomain(3);
    m.destroyDomain(2);
    expect(m.allowedErrors({ op: 'createDomain', id: 2 })).toMatchObject({ errors: [], mayAlsoSucceed: false });
    expect(m.check({ op: 'createDomain', id: 2 }, { ok: false, error: 'ENOSPC' }).conforming).toBe(false);
  });

  it('maxDomains 0: every createDomain may answer ENOSPC', () => {
    const m = new ReferenceIommu({ maxDomains: 0 });
    expect(m.createDomain(1)).toEqual({ ok: false, error: 'ENOSPC' });
    expect(m.check({ op: 'createDomain', id: 1 }, { ok: true }).conforming).toBe(true);
  });

  it('decision (i.1): every existing domain counts towards maxDomains, whatever its type', () => {
    const m = new ReferenceIommu({ maxDomains: 2 });
    m.createDomain(1, { type: 'identity' });
    m.createDomain(2, { type: 'blocked' });
    expect(m.createDomain(3)).toEqual({ ok: false, error: 'ENOSPC' });
  });

  it('decision (i.2): any non-array object is an options object, read by its own keys', () => {
    const m = new ReferenceIommu();
    const inherited = Object.create({ levels: 2 }) as DomainOptions;
    expect(m.createDomain(1, inherited)).toEqual({ ok: true });
    expect(configOf(m, 1)).toEqual(DEFAULTS);
    expect(m.createDomain(2, Object.assign(Object.create(null) as DomainOptions, { levels: 3 as const }))).toEqual({ ok: true });
    expect(configOf(m, 2)).toMatchObject({ levels: 3 });
  });

  it('without maxDomains, ENOSPC is never conforming', () => {
    const m = new ReferenceIommu();
    for (let id = 0; id < 100; id++) expect(m.createDomain(id)).toEqual({ ok: true });
    expect(m.check({ op: 'createDomain', id: 100 }, { ok: false, error: 'ENOSPC' }).conforming).toBe(false);
  });
});

describe('re-creation after destroy', () => {
  it('the re-created domain is empty, with its new options', () => {
    const m = new ReferenceIommu();
    m.createDomain(1, { levels: 5, unmap: 'whole' });
    m.map(1, 0n, 0x10_0000n, 4n * K4, 3);
    expect(m.destroyDomain(1)).toEqual({ ok: true });
    expect(m.createDomain(1, { levels: 3 })).toEqual({ ok: true });
    expect(m.domainViews()).toEqual([{ id: 1, config: { ...DEFAULTS, levels: 3, aperture: p2(39) }, mappings: [], stale: [] }]);
    m.attachDevice(0, 1);
    expect(m.translate(0, null, 0n, 'read')).toEqual({ ok: false, fault: 'not-mapped' });
    expect(m.check({ op: 'translate', device: 0, pasid: null, iova: 0n, access: 'read' }, { ok: true, pa: 0x10_0000n }).conforming).toBe(false);
    expect(m.map(1, 0n, 0x20_0000n, K4, 1)).toEqual({ ok: true }); // no stale EEXIST either
  });

  it('no stale window survives destroy and re-create', () => {
    const m = new ReferenceIommu();
    m.createDomain(1, { invalidation: 'deferred' });
    m.map(1, 0n, 0x10_0000n, K4, 3);
    m.unmap(1, 0n, K4);
    expect(m.domainViews()[0].stale).toHaveLength(1);
    m.destroyDomain(1);
    m.createDomain(1, { invalidation: 'deferred' });
    m.attachDevice(0, 1);
    expect(m.allowedTranslations(0, null, 0n, 'read')).toEqual([{ ok: false, fault: 'not-mapped' }]);
    expect(m.domainViews()[0].stale).toEqual([]);
  });
});
