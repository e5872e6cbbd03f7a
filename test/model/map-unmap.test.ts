// Directed tests of the model: map, unmap ('split' and 'whole') and flush (CONTRACT.md, "Semantics").
import { describe, expect, it } from 'vitest';
import { ReferenceIommu, type Call, type DomainOptions } from '../../model/index.ts';
import { OK, err, NOT_MAPPED, PERMISSION, pa } from '../helpers/answers.ts';
import { map as mapCall, unmap as unmapCall } from '../helpers/calls.ts';
import { K4, M2, PA_LIMIT, pages } from '../helpers/sizes.ts';
import { sorted } from '../helpers/text.ts';


/** Domain 1 with `options`, 2 identity, 3 blocked; device 0 RID on 1. */
function setup(options?: DomainOptions): ReferenceIommu {
  const m = new ReferenceIommu();
  expect(m.createDomain(1, options)).toEqual(OK);
  expect(m.createDomain(2, { type: 'identity' })).toEqual(OK);
  expect(m.createDomain(3, { type: 'blocked' })).toEqual(OK);
  expect(m.attachDevice(0, 1)).toEqual(OK);
  return m;
}

/** Which of the pages [0, n) are mapped in domain 1, as seen by device 0 (a string of # and .). */
const picture = (m: ReferenceIommu, n: number): string =>
  Array.from({ length: n }, (_, k) => (m.translate(0, null, pages(k), 'read').ok ? '#' : '.')).join('');

describe('map errors', () => {
  const ONE: [string, Call, string][] = [
    ['unknown domain', mapCall(9, 0n, 0n, K4), 'ENOENT'],
    ['identity domain', mapCall(2, 0n, 0n, K4), 'EINVAL'],
    ['blocked domain', mapCall(3, 0n, 0n, K4), 'EINVAL'],
    ['size 0', mapCall(1, 0n, 0n, 0n), 'EINVAL'],
    ['iova misaligned', mapCall(1, 0x800n, 0n, K4), 'EINVAL'],
    ['pa misaligned', mapCall(1, 0n, 0x10n, K4), 'EINVAL'],
    ['size misaligned', mapCall(1, 0n, 0n, 0x1800n), 'EINVAL'],
    ['iova + size passes the aperture', mapCall(1, (1n << 48n) - K4, 0n, pages(2)), 'ERANGE'],
    ['iova at the aperture', mapCall(1, 1n << 48n, 0n, K4), 'ERANGE'],
    ['iova near 2^64', mapCall(1, (1n << 64n) - K4, 0n, K4), 'ERANGE'],
    ['pa + size passes 2^52', mapCall(1, 0n, PA_LIMIT - K4, pages(2)), 'ERANGE'],
    ['pa at 2^52 (a valid u64): ERANGE, not EINVAL', mapCall(1, 0n, PA_LIMIT, K4), 'ERANGE'],
    ['pa near 2^64', mapCall(1, 0n, (1n << 64n) - K4, K4), 'ERANGE'],
  ];
  it.each(ONE)('%s: %s', (_name, call, errno) => {
    const m = setup();
    expect(m.perform(call)).toEqual(err(errno));
    expect(m.allowedErrors(call)).toMatchObject({ errors: [errno], mayAlsoSucceed: false });
    expect(m.check(call, err(errno))).toMatchObject({ conforming: true, stale: false });
    expect(m.check(call, OK).conforming).toBe(false);
    expect(m.domainViews().find((d) => d.id === 1)!.mappings).toEqual([]);
  });

  it('the last page below the aperture and below 2^52 can be mapped', () => {
    const m = setup();
    expect(m.map(1, (1n << 48n) - K4, PA_LIMIT - K4, K4, 3)).toEqual(OK);
    expect(m.translate(0, null, (1n << 48n) - 1n, 'write')).toEqual(pa(PA_LIMIT - 1n));
  });

  it('EEXIST if any page of the range is mapped, at either end or inside', () => {
    const m = setup();
    m.map(1, pages(4), pages(100), pages(4), 3); // pages 4..7
    const cases: [bigint, bigint][] = [
      [pages(4), pages(4)], // the same range
      [pages(2), pages(3)], // overlaps the first page
      [pages(7), pages(3)], // overlaps the last page
      [pages(5), pages(1)], // inside
      [pages(0), pages(16)], // around
    ];
    for (const [iova, size] of cases) {
      const call = mapCall(1, iova, pages(200), size);
      expect(m.perform(call)).toEqual(err('EEXIST'));
      expect(m.allowedErrors(call).errors).toEqual(['EEXIST']);
    }
    // Adjacent ranges do not overlap.
    expect(m.map(1, pages(3), pages(300), K4, 3)).toEqual(OK);
    expect(m.map(1, pages(8), pages(301), K4, 3)).toEqual(OK);
  });

  it('atomicity: a failed map leaves nothing behind', () => {
    const m = setup();
    m.map(1, pages(4), pages(100), K4, 3);
    expect(m.map(1, pages(0), pages(200), pages(8), 3)).toEqual(err('EEXIST'));
    expect(picture(m, 8)).toBe('....#...');
    expect(m.map(1, (1n << 48n) - pages(2), 0n, pages(4), 3)).toEqual(err('ERANGE'));
    expect(m.translate(0, null, (1n << 48n) - K4, 'read')).toEqual(NOT_MAPPED);
    // The model follows a conforming error answer of check() the same way: nothing changes.
    expect(m.check(mapCall(1, pages(2), pages(200), pages(4)), err('EEXIST')).conforming).toBe(true);
    expect(picture(m, 8)).toBe('....#...');
  });

  const SEVERAL: [string, (m: ReferenceIommu) => Call, string[]][] = [
    ['unknown domain + size 0', () => mapCall(9, 0n, 0n, 0n), ['EINVAL', 'ENOENT']],
    ['unknown domain + misaligned iova', () => mapCall(9, 0x10n, 0n, K4), ['EINVAL', 'ENOENT']],
    ['unknown domain + pa + size past 2^52', () => mapCall(9, 0n, PA_LIMIT, K4), ['ENOENT', 'ERANGE']],
    ['identity + size 0', () => mapCall(2, 0n, 0n, 0n), ['EINVAL']],
    ['identity + pa past 2^52', () => mapCall(2, 0n, PA_LIMIT, K4), ['EINVAL', 'ERANGE']],
    ['blocked + pa past 2^52', () => mapCall(3, 0n, PA_LIMIT, K4), ['EINVAL', 'ERANGE']],
    ['misaligned + past the aperture', () => mapCall(1, (1n << 48n) + 0x10n, 0n, K4), ['EINVAL', 'ERANGE']],
    [
      'past the aperture + overlapping a mapping',
      (m) => (m.map(1, (1n << 48n) - K4, 0n, K4, 3), mapCall(1, (1n << 48n) - K4, pages(9), pages(2))),
      ['EEXIST', 'ERANGE'],
    ],
    ['pa past 2^52 + overlapping a mapping', (m) => (m.map(1, 0n, 0n, K4, 3), mapCall(1, 0n, PA_LIMIT, K4)), ['EEXIST', 'ERANGE']],
    ['size misaligned + overlapping a mapping', (m) => (m.map(1, K4, 0n, K4, 3), mapCall(1, 0n, 0n, 0x1800n)), ['EEXIST', 'EINVAL']],
    ['size 0 inside a mapping (an empty range has no page)', (m) => (m.map(1, 0n, 0n, pages(2), 3), mapCall(1, K4, 0n, 0n)), ['EINVAL']],
  ];
  it.each(SEVERAL)('several conditions, %s: any one of them', (_name, make, errnos) => {
    const m = setup();
    const call = make(m);
    expect(sorted(m.allowedErrors(call).errors)).toEqual(errnos);
    expect(m.allowedErrors(call).mayAlsoSucceed).toBe(false);
    for (const e of errnos) expect(m.check(call, err(e)).conforming).toBe(true);
    for (const e of ['EINVAL', 'ENOENT', 'EEXIST', 'EBUSY', 'ERANGE', 'ENOSPC'].filter((x) => !errnos.includes(x)))
      expect(m.check(call, err(e)).conforming).toBe(false);
    expect(m.check(call, OK).conforming).toBe(false);
  });
});

describe('map success', () => {
  it('translates every page offset exactly', () => {
    const m = setup();
    const iova = 0x4000_0000n;
    const base = 0x12_3000n;
    expect(m.map(1, iova, base, pages(16), 3)).toEqual(OK);
    for (let k = 0n; k < 16n; k++)
      for (const off of [0n, 1n, 0x7ffn, 0xfffn]) {
        const at = iova + k * K4 + off;
        expect(m.allowedTranslations(0, null, at, 'read')).toEqual([pa(base + k * K4 + off)]);
        expect(m.translate(0, null, at, 'write')).toEqual(pa(base + k * K4 + off));
      }
    expect(m.translate(0, null, iova - 1n, 'read')).toEqual(NOT_MAPPED);
    expect(m.translate(0, null, iova + pages(16), 'read')).toEqual(NOT_MAPPED);
  });

  it('a 1 GiB mapping translates at its far offsets', () => {
    const m = setup();
    expect(m.map(1, 0x4000_0000n, 0x8000_0000n, 0x4000_0000n, 1)).toEqual(OK);
    expect(m.translate(0, null, 0x7fff_ffffn, 'read')).toEqual(pa(0xbfff_ffffn));
    expect(m.translate(0, null, 0x5234_5678n, 'read')).toEqual(pa(0x9234_5678n));
    expect(m.translate(0, null, 0x8000_0000n, 'read')).toEqual(NOT_MAPPED);
  });

  it('a mapping may be unaligned to large pages and need not use them', () => {
    const m = setup({ pageSizes: [K4] });
    expect(m.map(1, M2 - K4, 0x30_0000n, M2 + pages(2), 3)).toEqual(OK);
    expect(m.translate(0, null, M2, 'read')).toEqual(pa(0x30_1000n));
  });

  it('permissions: prot 1 is read-only, prot 2 write-only (read: permission or pa), prot 3 both', () => {
    const m = setup();
    m.map(1, pages(1), pages(11), K4, 1);
    m.map(1, pages(2), pages(12), K4, 2);
    m.map(1, pages(3), pages(13), K4, 3);
    const t = (k: number, access: 'read' | 'write') => m.allowedTranslations(0, null, pages(k) + 8n, access);
    expect(t(1, 'read')).toEqual([pa(pages(11) + 8n)]);
    expect(t(1, 'write')).toEqual([PERMISSION]);
    expect(m.check({ op: 'translate', device: 0, pasid: null, iova: pages(1), access: 'write' }, pa(pages(11))).conforming).toBe(false);
    expect(t(2, 'write')).toEqual([pa(pages(12) + 8n)]);
    expect(t(2, 'read')).toEqual([PERMISSION, pa(pages(12) + 8n)]);
    // Decision (g): the face answers 'permission' for a read of a write-only mapping.
    expect(m.translate(0, null, pages(2), 'read')).toEqual(PERMISSION);
    const readWO: Call = { op: 'translate', device: 0, pasid: null, iova: pages(2), access: 'read' };
    expect(m.check(readWO, PERMISSION)).toMatchObject({ conforming: true, stale: false });
    expect(m.check(readWO, pa(pages(12)))).toMatchObject({ conforming: true, stale: false });
    expect(m.check(readWO, NOT_MAPPED).conforming).toBe(false);
    expect(t(3, 'read')).toEqual([pa(pages(13) + 8n)]);
    expect(t(3, 'write')).toEqual([pa(pages(13) + 8n)]);
  });
});

describe('unmap errors', () => {
  const ONE: [string, Call, string][] = [
    ['unknown domain', unmapCall(9, 0n, K4), 'ENOENT'],
    ['identity domain', unmapCall(2, 0n, K4), 'EINVAL'],
    ['blocked domain', unmapCall(3, 0n, K4), 'EINVAL'],
    ['size 0', unmapCall(1, 0n, 0n), 'EINVAL'],
    ['iova misaligned', unmapCall(1, 0x10n, K4), 'EINVAL'],
    ['size misaligned', unmapCall(1, 0n, 0x10n), 'EINVAL'],
    ['iova + size passes the aperture', unmapCall(1, (1n << 48n) - K4, pages(2)), 'ERANGE'],
    ['iova near 2^64', unmapCall(1, (1n << 64n) - K4, K4), 'ERANGE'],
  ];
  it.each(ONE)('%s: %s', (_name, call, errno) => {
    const m = setup();
    m.map(1, 0n, 0n, pages(4), 3);
    expect(m.perform(call)).toEqual(err(errno));
    expect(m.allowedErrors(call)).toMatchObject({ errors: [errno], mayAlsoSucceed: false });
    expect(m.check(call, { ok: true, value: 0n }).conforming).toBe(false);
    expect(picture(m, 5)).toBe('####.');
  });

  it('several conditions: any one of them', () => {
    const m = setup();
    expect(sorted(m.allowedErrors(unmapCall(9, 0n, 0n)).errors)).toEqual(['EINVAL', 'ENOENT']);
    expect(sorted(m.allowedErrors(unmapCall(9, 0x10n, K4)).errors)).toEqual(['EINVAL', 'ENOENT']);
    expect(sorted(m.allowedErrors(unmapCall(1, (1n << 48n) + 0x10n, K4)).errors)).toEqual(['EINVAL', 'ERANGE']);
    expect(m.allowedErrors(unmapCall(2, 0n, 0n)).errors).toEqual(['EINVAL']);
  });

  it('the last page below the aperture can be unmapped', () => {
    const m = setup();
    m.map(1, (1n << 48n) - K4, 0n, K4, 3);
    expect(m.unmap(1, (1n << 48n) - K4, K4)).toEqual({ ok: true, value: K4 });
  });
});

describe("unmap 'split'", () => {
  it('partial unmaps of a big mapping leave holes and return the bytes that were mapped', () => {
    const m = setup();
    m.map(1, 0n, 0x10_0000n, pages(16), 3);
    expect(m.unmap(1, pages(4), pages(4))).toEqual({ ok: true, value: pages(4) });
    expect(picture(m, 17)).toBe('####....########.');
    // The pieces left keep their PA.
    expect(m.translate(0, null, pages(3) + 5n, 'read')).toEqual(pa(0x10_3005n));
    expect(m.translate(0, null, pages(8) + 5n, 'read')).toEqual(pa(0x10_8005n));
    // Across a hole: only the bytes that were mapped count.
    expect(m.unmap(1, pages(2), pages(8))).toEqual({ ok: true, value: pages(4) });
    expect(picture(m, 17)).toBe('##........######.');
    // Nothing mapped there: 0.
    expect(m.unmap(1, pages(4), pages(4))).toEqual({ ok: true, value: 0n });
    expect(m.unmap(1, pages(100), pages(1))).toEqual({ ok: true, value: 0n });
    // First and last pages.
    expect(m.unmap(1, pages(0), K4)).toEqual({ ok: true, value: K4 });
    expect(m.unmap(1, pages(15), pages(10))).toEqual({ ok: true, value: K4 });
    expect(picture(m, 17)).toBe('.#........#####..');
    // Everything at once, across several mappings.
    m.map(1, pages(20), 0n, pages(2), 1);
    expect(m.unmap(1, 0n, pages(32))).toEqual({ ok: true, value: pages(8) });
    expect(m.domainViews().find((d) => d.id === 1)!.mappings).toEqual([]);
  });

  it('a page freed by a split unmap can be mapped again, and check() states the bytes', () => {
    const m = setup();
    m.map(1, 0n, 0x10_0000n, pages(4), 3);
    const call = unmapCall(1, K4, pages(2));
    expect(m.check(call, { ok: true, value: pages(1) }).conforming).toBe(false);
    expect(m.check(call, { ok: true, value: pages(4) }).conforming).toBe(false);
    expect(m.check(call, { ok: true, value: pages(2) })).toMatchObject({ conforming: true, stale: false });
    expect(m.map(1, K4, 0x50_0000n, K4, 1)).toEqual(OK);
    expect(picture(m, 4)).toBe('##.#');
    expect(m.translate(0, null, K4, 'read')).toEqual(pa(0x50_0000n));
  });
});

describe("unmap 'whole' (the virtio-iommu UNMAP examples, in 4 KiB pages)", () => {
  const whole = () => setup({ unmap: 'whole' });

  it('map [0,9], unmap [0,9]: removed', () => {
    const m = whole();
    m.map(1, 0n, 0n, pages(10), 3);
    expect(m.unmap(1, 0n, pages(10))).toEqual({ ok: true, value: pages(10) });
    expect(picture(m, 10)).toBe('..........');
  });

  it('map [0,4] and [5,9], unmap [0,9]: both removed', () => {
    const m = whole();
    m.map(1, 0n, 0n, pages(5), 3);
    m.map(1, pages(5), pages(50), pages(5), 3);
    expect(m.unmap(1, 0n, pages(10))).toEqual({ ok: true, value: pages(10) });
    expect(picture(m, 10)).toBe('..........');
  });

  it('map [0,9], unmap [0,4]: EINVAL and nothing changes', () => {
    const m = whole();
    m.map(1, 0n, 0x10_0000n, pages(10), 3);
    const call = unmapCall(1, 0n, pages(5));
    expect(m.perform(call)).toEqual(err('EINVAL'));
    expect(m.allowedErrors(call)).toMatchObject({ errors: ['EINVAL'], mayAlsoSucceed: false });
    expect(m.check(call, { ok: true, value: pages(5) }).conforming).toBe(false);
    expect(picture(m, 11)).toBe('##########.');
    expect(m.translate(0, null, pages(9), 'read')).toEqual(pa(0x10_9000n));
    // Cutting at the other end, or inside, is EINVAL too.
    expect(m.unmap(1, pages(5), pages(10))).toEqual(err('EINVAL'));
    expect(m.unmap(1, pages(3), pages(2))).toEqual(err('EINVAL'));
  });

  it('map [0,4] and [10,14], unmap [0,14]: both removed, the hole counts nothing', () => {
    const m = whole();
    m.map(1, 0n, 0n, pages(5), 3);
    m.map(1, pages(10), pages(10), pages(5), 3);
    expect(m.unmap(1, 0n, pages(15))).toEqual({ ok: true, value: pages(10) });
    expect(picture(m, 15)).toBe('...............');
  });

  it('unmap of nothing: 0', () => {
    const m = whole();
    expect(m.unmap(1, 0n, pages(10))).toEqual({ ok: true, value: 0n });
    m.map(1, pages(20), 0n, pages(2), 3);
    expect(m.unmap(1, 0n, pages(20))).toEqual({ ok: true, value: 0n });
    expect(m.unmap(1, pages(22), pages(2))).toEqual({ ok: true, value: 0n });
  });

  it('decision (e): a cut-through is one more EINVAL condition, alongside ERANGE and ENOENT-free errors', () => {
    const m = whole();
    m.map(1, (1n << 48n) - pages(2), 0n, pages(2), 3);
    const call = unmapCall(1, (1n << 48n) - K4, pages(2)); // cuts the mapping and passes the aperture
    expect(sorted(m.allowedErrors(call).errors)).toEqual(['EINVAL', 'ERANGE']);
    expect(m.check(call, err('ERANGE')).conforming).toBe(true);
    expect(m.check(call, err('EINVAL')).conforming).toBe(true);
  });

  it("'split' never answers EINVAL for a cut", () => {
    const m = setup({ unmap: 'split' });
    m.map(1, 0n, 0n, pages(10), 3);
    expect(m.allowedErrors(unmapCall(1, 0n, pages(5)))).toMatchObject({ errors: [], mayAlsoSucceed: false });
  });
});

describe('flush', () => {
  it('ENOENT for an unknown domain', () => {
    const m = setup();
    expect(m.flush(9)).toEqual(err('ENOENT'));
    expect(m.allowedErrors({ op: 'flush', domain: 9 })).toMatchObject({ errors: ['ENOENT'], mayAlsoSucceed: false });
    expect(m.check({ op: 'flush', domain: 9 }, OK).conforming).toBe(false);
  });

  it('strict, identity and blocked domains: success, no effect', () => {
    const m = setup();
    m.map(1, 0n, 0x10_0000n, pages(2), 3);
    m.unmap(1, K4, K4);
    const before = m.domainViews();
    for (const d of [1, 2, 3]) {
      expect(m.flush(d)).toEqual(OK);
      expect(m.allowedErrors({ op: 'flush', domain: d })).toMatchObject({ errors: [], mayAlsoSucceed: false });
    }
    expect(m.domainViews()).toEqual(before);
    expect(picture(m, 3)).toBe('#..');
  });

  it('a flush with nothing to flush succeeds in a deferred domain too', () => {
    const m = setup({ invalidation: 'deferred' });
    expect(m.flush(1)).toEqual(OK);
    expect(m.flush(1)).toEqual(OK);
  });
});
