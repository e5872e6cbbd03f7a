// Directed tests of the model: destroyDomain, attachDevice/detachDevice, attachPasid/detachPasid
// and which domain a (device, PASID) translates through (CONTRACT.md, "Semantics").
import { describe, expect, it } from 'vitest';
import { ReferenceIommu, type Call } from '../../model/index.ts';
import { OK, err, BLOCKED, NOT_MAPPED, pa } from '../helpers/answers.ts';
import { tr } from '../helpers/calls.ts';
import { K4 } from '../helpers/sizes.ts';
import { sorted } from '../helpers/text.ts';


/** Domains 1 (A), 2 (B), 3 (C), each mapping IOVA 0 to its own PA 0x{id}00000. */
function threeDomains(): ReferenceIommu {
  const m = new ReferenceIommu();
  for (const id of [1, 2, 3]) {
    expect(m.createDomain(id)).toEqual(OK);
    expect(m.map(id, 0n, BigInt(id) << 20n, K4, 3)).toEqual(OK);
  }
  return m;
}

describe('destroyDomain', () => {
  it('ENOENT for an unknown domain (never created, or already destroyed)', () => {
    const m = new ReferenceIommu();
    expect(m.destroyDomain(1)).toEqual(err('ENOENT'));
    expect(m.allowedErrors({ op: 'destroyDomain', id: 1 })).toMatchObject({ errors: ['ENOENT'], mayAlsoSucceed: false });
    m.createDomain(1);
    expect(m.destroyDomain(1)).toEqual(OK);
    expect(m.destroyDomain(1)).toEqual(err('ENOENT'));
    expect(m.check({ op: 'destroyDomain', id: 1 }, OK).conforming).toBe(false);
  });

  it('EBUSY while attached to a device RID, ok after detach', () => {
    const m = threeDomains();
    m.attachDevice(5, 1);
    expect(m.destroyDomain(1)).toEqual(err('EBUSY'));
    expect(m.allowedErrors({ op: 'destroyDomain', id: 1 })).toMatchObject({ errors: ['EBUSY'], mayAlsoSucceed: false });
    expect(m.check({ op: 'destroyDomain', id: 1 }, OK).conforming).toBe(false);
    expect(m.translate(5, null, 0n, 'read')).toEqual(pa(1n << 20n)); // nothing changed
    expect(m.detachDevice(5)).toEqual(OK);
    expect(m.destroyDomain(1)).toEqual(OK);
  });

  it('EBUSY while attached to a (device, PASID), ok after detach', () => {
    const m = threeDomains();
    m.attachPasid(5, 9, 2);
    expect(m.destroyDomain(2)).toEqual(err('EBUSY'));
    expect(m.detachPasid(5, 9)).toEqual(OK);
    expect(m.destroyDomain(2)).toEqual(OK);
  });

  it('EBUSY until every attachment is gone, and a replaced attachment no longer counts', () => {
    const m = threeDomains();
    m.attachDevice(1, 1);
    m.attachDevice(2, 1);
    m.attachPasid(1, 1, 1);
    m.detachDevice(1);
    expect(m.destroyDomain(1)).toEqual(err('EBUSY'));
    m.attachDevice(2, 3); // replaces device 2's RID domain 1
    expect(m.destroyDomain(1)).toEqual(err('EBUSY'));
    m.detachPasid(1, 1);
    expect(m.destroyDomain(1)).toEqual(OK);
    expect(m.destroyDomain(3)).toEqual(err('EBUSY'));
  });

  it('identity and blocked domains are destroyed the same way', () => {
    const m = new ReferenceIommu();
    m.createDomain(1, { type: 'identity' });
    m.createDomain(2, { type: 'blocked' });
    m.attachDevice(0, 1);
    expect(m.destroyDomain(1)).toEqual(err('EBUSY'));
    expect(m.destroyDomain(2)).toEqual(OK);
  });
});

describe('attachDevice and detachDevice', () => {
  it('attachDevice ENOENT for an unknown domain; nothing changes', () => {
    const m = threeDomains();
    m.attachDevice(0, 1);
    expect(m.attachDevice(0, 9)).toEqual(err('ENOENT'));
    expect(m.allowedErrors({ op: 'attachDevice', device: 0, domain: 9 })).toMatchObject({ errors: ['ENOENT'], mayAlsoSucceed: false });
    expect(m.translate(0, null, 0n, 'read')).toEqual(pa(1n << 20n));
  });

  it('a never-attached device is blocked, for any IOVA and access', () => {
    const m = threeDomains();
    for (const iova of [0n, 0x1000n, (1n << 64n) - 1n])
      for (const access of ['read', 'write'] as const) {
        expect(m.translate(7, null, iova, access)).toEqual(BLOCKED);
        expect(m.allowedTranslations(7, null, iova, access)).toEqual([BLOCKED]);
        expect(m.translate(7, 3, iova, access)).toEqual(BLOCKED);
      }
  });

  it('attach replaces the RID domain: the old domain is no longer observable', () => {
    const m = threeDomains();
    m.map(2, 0x1000n, 0x20_1000n, K4, 3);
    expect(m.attachDevice(0, 1)).toEqual(OK);
    expect(m.translate(0, null, 0n, 'read')).toEqual(pa(0x10_0000n));
    expect(m.translate(0, null, 0x1000n, 'read')).toEqual(NOT_MAPPED);
    expect(m.attachDevice(0, 2)).toEqual(OK);
    expect(m.allowedTranslations(0, null, 0n, 'read')).toEqual([pa(0x20_0000n)]);
    expect(m.check(tr(0, null, 0n), pa(0x10_0000n)).conforming).toBe(false);
    expect(m.translate(0, null, 0x1000n, 'read')).toEqual(pa(0x20_1000n));
    expect(m.attachments()).toEqual([{ device: 0, pasid: null, domain: 2 }]);
  });

  it('attaching to the same domain again is a success', () => {
    const m = threeDomains();
    expect(m.attachDevice(0, 1)).toEqual(OK);
    expect(m.attachDevice(0, 1)).toEqual(OK);
    expect(m.translate(0, null, 0n, 'read')).toEqual(pa(0x10_0000n));
  });

  it('detachDevice: ENOENT without a RID domain; afterwards blocked', () => {
    const m = threeDomains();
    expect(m.detachDevice(0)).toEqual(err('ENOENT'));
    expect(m.allowedErrors({ op: 'detachDevice', device: 0 })).toMatchObject({ errors: ['ENOENT'], mayAlsoSucceed: false });
    m.attachDevice(0, 1);
    expect(m.detachDevice(0)).toEqual(OK);
    expect(m.translate(0, null, 0n, 'read')).toEqual(BLOCKED);
    expect(m.check(tr(0, null, 0n), pa(0x10_0000n)).conforming).toBe(false);
    expect(m.detachDevice(0)).toEqual(err('ENOENT'));
  });

  it('detachDevice ENOENT for a device that has only PASID attachments', () => {
    const m = threeDomains();
    m.attachPasid(0, 1, 2);
    expect(m.detachDevice(0)).toEqual(err('ENOENT'));
    expect(m.translate(0, 1, 0n, 'read')).toEqual(pa(0x20_0000n));
  });

  it('several devices may share one domain', () => {
    const m = threeDomains();
    m.attachDevice(0, 1);
    m.attachDevice(1, 1);
    m.attachPasid(2, 4, 1);
    for (const [d, p] of [[0, null], [1, null], [2, 4]] as const) expect(m.translate(d, p, 0x10n, 'write')).toEqual(pa(0x10_0010n));
    m.unmap(1, 0n, K4);
    for (const [d, p] of [[0, null], [1, null], [2, 4]] as const) expect(m.translate(d, p, 0x10n, 'write')).toEqual(NOT_MAPPED);
  });

  it('a blocked domain blocks every access; an identity domain passes it', () => {
    const m = new ReferenceIommu();
    m.createDomain(1, { type: 'blocked' });
    m.createDomain(2, { type: 'identity' });
    m.attachDevice(0, 1);
    m.attachDevice(1, 2);
    expect(m.translate(0, null, 0x1234n, 'write')).toEqual(BLOCKED);
    expect(m.allowedTranslations(0, null, 0x1234n, 'read')).toEqual([BLOCKED]);
    expect(m.translate(1, null, 0x1234n, 'write')).toEqual(pa(0x1234n));
  });
});

describe('attachPasid and detachPasid', () => {
  it('ENOENT for an unknown domain', () => {
    const m = threeDomains();
    const call: Call = { op: 'attachPasid', device: 0, pasid: 1, domain: 9 };
    expect(m.perform(call)).toEqual(err('ENOENT'));
    expect(m.allowedErrors(call)).toMatchObject({ errors: ['ENOENT'], mayAlsoSucceed: false });
  });

  it('EBUSY if the (device, PASID) has another domain; the same one: EBUSY or success (v2)', () => {
    const m = threeDomains();
    expect(m.attachPasid(0, 1, 1)).toEqual(OK);
    expect(m.attachPasid(0, 1, 2)).toEqual(err('EBUSY'));
    expect(m.check({ op: 'attachPasid', device: 0, pasid: 1, domain: 2 }, OK).conforming).toBe(false);
    expect(m.attachPasid(0, 1, 1)).toEqual(err('EBUSY'));
    expect(m.allowedErrors({ op: 'attachPasid', device: 0, pasid: 1, domain: 1 })).toMatchObject({ errors: ['EBUSY'], mayAlsoSucceed: true });
    expect(m.check({ op: 'attachPasid', device: 0, pasid: 1, domain: 1 }, OK).conforming).toBe(true);
    expect(m.translate(0, 1, 0n, 'read')).toEqual(pa(0x10_0000n)); // still domain 1
    // Another PASID or another device with the same PASID number is independent.
    expect(m.attachPasid(0, 2, 1)).toEqual(OK);
    expect(m.attachPasid(1, 1, 2)).toEqual(OK);
  });

  it('ENOENT and EBUSY both hold: either is conforming', () => {
    const m = threeDomains();
    m.attachPasid(0, 1, 1);
    const call: Call = { op: 'attachPasid', device: 0, pasid: 1, domain: 9 };
    expect(sorted(m.allowedErrors(call).errors)).toEqual(['EBUSY', 'ENOENT']);
    expect(m.check(call, err('ENOENT')).conforming).toBe(true);
    expect(m.check(call, err('EBUSY')).conforming).toBe(true);
    expect(m.check(call, err('EINVAL')).conforming).toBe(false);
    expect(m.check(call, OK).conforming).toBe(false);
  });

  it('detachPasid: ENOENT if it has none; afterwards blocked; no effect on the RID or other PASIDs', () => {
    const m = threeDomains();
    expect(m.detachPasid(0, 1)).toEqual(err('ENOENT'));
    m.attachDevice(0, 1);
    expect(m.detachPasid(0, 1)).toEqual(err('ENOENT')); // the RID attachment is not a PASID one
    m.attachPasid(0, 1, 2);
    m.attachPasid(0, 2, 3);
    expect(m.detachPasid(0, 1)).toEqual(OK);
    expect(m.translate(0, 1, 0n, 'read')).toEqual(BLOCKED);
    expect(m.translate(0, 2, 0n, 'read')).toEqual(pa(0x30_0000n));
    expect(m.translate(0, null, 0n, 'read')).toEqual(pa(0x10_0000n));
    expect(m.detachPasid(0, 1)).toEqual(err('ENOENT'));
    expect(m.attachPasid(0, 1, 3)).toEqual(OK); // free again
  });

  it('PASID traffic never falls back to the RID domain', () => {
    const m = threeDomains();
    m.attachDevice(0, 1);
    expect(m.translate(0, 1, 0n, 'read')).toEqual(BLOCKED);
    expect(m.allowedTranslations(0, 1, 0n, 'read')).toEqual([BLOCKED]);
    expect(m.check(tr(0, 1, 0n), pa(0x10_0000n)).conforming).toBe(false);
  });

  it("RID traffic never sees a PASID's domain", () => {
    const m = threeDomains();
    m.attachPasid(0, 1, 2);
    expect(m.translate(0, null, 0n, 'read')).toEqual(BLOCKED);
    expect(m.check(tr(0, null, 0n), pa(0x20_0000n)).conforming).toBe(false);
    m.attachDevice(0, 1);
    m.detachDevice(0);
    expect(m.translate(0, null, 0n, 'read')).toEqual(BLOCKED);
    expect(m.translate(0, 1, 0n, 'read')).toEqual(pa(0x20_0000n)); // detachDevice leaves PASIDs alone
  });

  it('the seed scenario: RID on A, PASIDs 1 and 2 on B and C; each sees only its own mappings', () => {
    const m = new ReferenceIommu();
    for (const id of [1, 2, 3]) m.createDomain(id);
    m.map(1, 0x1000n, 0xa000n, K4, 3);
    m.map(2, 0x2000n, 0xb000n, K4, 3);
    m.map(3, 0x3000n, 0xc000n, K4, 3);
    expect(m.attachDevice(4, 1)).toEqual(OK);
    expect(m.attachPasid(4, 1, 2)).toEqual(OK);
    expect(m.attachPasid(4, 2, 3)).toEqual(OK);
    const expected: [number | null, bigint | undefined, bigint | undefined, bigint | undefined][] = [
      [null, 0xa000n, undefined, undefined],
      [1, undefined, 0xb000n, undefined],
      [2, undefined, undefined, 0xc000n],
    ];
    for (const [pasid, ...pas] of expected) {
      [0x1000n, 0x2000n, 0x3000n].forEach((iova, i) => {
        const want = pas[i] === undefined ? NOT_MAPPED : pa(pas[i]! + 0x10n);
        expect(m.allowedTranslations(4, pasid, iova + 0x10n, 'read')).toEqual([want]);
      });
    }
    // Another PASID of the same device, and the same PASIDs of another device, are blocked.
    expect(m.translate(4, 3, 0x1000n, 'read')).toEqual(BLOCKED);
    expect(m.translate(5, 1, 0x2000n, 'read')).toEqual(BLOCKED);
    expect(m.translate(5, null, 0x1000n, 'read')).toEqual(BLOCKED);
    expect(sorted(m.attachments().map((a) => JSON.stringify(a)))).toEqual(
      sorted([
        { device: 4, pasid: null, domain: 1 },
        { device: 4, pasid: 1, domain: 2 },
        { device: 4, pasid: 2, domain: 3 },
      ].map((a) => JSON.stringify(a))),
    );
  });
});
