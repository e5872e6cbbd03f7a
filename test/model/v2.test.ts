// Directed tests of the model's v2 rules (CONTRACT.md, "Version 2 additions"), one block per
// section, each rule by its sentence.
import { describe, expect, it } from 'vitest';
import { ReferenceIommu, type Capabilities } from '../../model/index.ts';
import { BLOCKED, EBUSY, EEXIST, EINVAL, ENOENT, ERANGE, NOT_MAPPED, OK, PERMISSION, pa } from '../helpers/answers.ts';
import { tr } from '../helpers/calls.ts';
import { K4, M2, PA_LIMIT } from '../helpers/sizes.ts';

const NESTING: Capabilities = { nesting: true, pasidReplace: true };
const CURRENT = { conforming: true, stale: false };
const STALE = { conforming: true, stale: true };

/**
 * Parent 1 (paging, `parentOptions`) maps IPA 0x10000 -> PA 0x500000; nested 2 over it (with
 * `nestedOptions`) maps IOVA 0 -> IPA 0x10000; device 0 (RID) uses the nested domain.
 */
function stacked(parentOptions = {}, nestedOptions = {}, parentProt = 3, nestedProt = 3): ReferenceIommu {
  const m = new ReferenceIommu(NESTING);
  expect(m.createDomain(1, parentOptions)).toEqual(OK);
  expect(m.createDomain(2, { type: 'nested', parent: 1, ...nestedOptions })).toEqual(OK);
  expect(m.map(1, 0x10000n, 0x500000n, K4, parentProt)).toEqual(OK);
  expect(m.map(2, 0n, 0x10000n, K4, nestedProt)).toEqual(OK);
  expect(m.attachDevice(0, 2)).toEqual(OK);
  return m;
}

describe('options of undeclared capabilities', () => {
  it("'nested', parent and replacePasid are EINVAL without their capability, whatever their value", () => {
    const m = new ReferenceIommu();
    expect(m.createDomain(1)).toEqual(OK);
    expect(m.createDomain(2, { type: 'nested', parent: 1 })).toEqual(EINVAL);
    expect(m.createDomain(2, { parent: 1 })).toEqual(EINVAL);
    expect(m.attachPasid(0, 1, 1)).toEqual(OK);
    expect(m.replacePasid(0, 1, 1)).toEqual(EINVAL);
    expect(m.allowedErrors({ op: 'replacePasid', device: 0, pasid: 1, domain: 1 })).toMatchObject({ errors: ['EINVAL'], mayAlsoSucceed: false });
  });
});

describe('nested domains: creation', () => {
  it('"A missing or misplaced parent is a bad option": EINVAL', () => {
    const m = new ReferenceIommu(NESTING);
    expect(m.createDomain(1)).toEqual(OK);
    expect(m.createDomain(2, { type: 'nested' })).toEqual(EINVAL);
    expect(m.createDomain(2, { parent: 1 })).toEqual(EINVAL); // on a paging domain
    expect(m.createDomain(2, { type: 'identity', parent: 1 })).toEqual(EINVAL);
    expect(m.createDomain(2, { type: 'nested', parent: -1 })).toEqual(EINVAL);
    expect(m.createDomain(2, { type: 'nested', parent: 1, dirtyTracking: true } as never)).toEqual(EINVAL); // not declared: unknown
  });

  it('"ENOENT if no such domain; EINVAL if it is not a paging domain"', () => {
    const m = new ReferenceIommu(NESTING);
    expect(m.createDomain(2, { type: 'nested', parent: 1 })).toEqual(ENOENT);
    m.createDomain(1);
    m.createDomain(3, { type: 'identity' });
    m.createDomain(4, { type: 'blocked' });
    expect(m.createDomain(2, { type: 'nested', parent: 1 })).toEqual(OK);
    for (const parent of [2, 3, 4]) expect(m.createDomain(5, { type: 'nested', parent })).toEqual(EINVAL);
  });

  it('state conditions are any-of: an id in use and an unknown parent, EEXIST or ENOENT', () => {
    const m = new ReferenceIommu(NESTING);
    m.createDomain(1);
    expect(m.allowedErrors({ op: 'createDomain', id: 1, options: { type: 'nested', parent: 9 } })).toMatchObject({ errors: ['EEXIST', 'ENOENT'], mayAlsoSucceed: false });
    expect(m.check({ op: 'createDomain', id: 1, options: { type: 'nested', parent: 9 } }, ENOENT).conforming).toBe(true);
    expect(m.check({ op: 'createDomain', id: 1, options: { type: 'nested', parent: 9 } }, EEXIST).conforming).toBe(true);
  });

  it('the paging options are the nested domain\'s own (an aperture below the IOVA is not-mapped)', () => {
    const m = new ReferenceIommu(NESTING);
    m.createDomain(1);
    expect(m.createDomain(2, { type: 'nested', parent: 1, levels: 3, aperture: 1n << 21n, unmap: 'whole' })).toEqual(OK);
    expect(m.map(2, M2, 0n, K4, 3)).toEqual(ERANGE);
    expect(m.domainViews().find((d) => d.id === 2)?.config).toMatchObject({ type: 'nested', parent: 1, levels: 3, unmap: 'whole' });
  });

  it('"ipa + size passing 2^52 is ERANGE"', () => {
    const m = new ReferenceIommu(NESTING);
    m.createDomain(1);
    m.createDomain(2, { type: 'nested', parent: 1 });
    expect(m.map(2, 0n, PA_LIMIT - K4, 2n * K4, 3)).toEqual(ERANGE);
    expect(m.map(2, 0n, PA_LIMIT - K4, K4, 3)).toEqual(OK);
  });

  it('"destroyDomain(parent) is EBUSY while a nested domain over it exists"', () => {
    const m = stacked();
    m.detachDevice(0);
    expect(m.destroyDomain(1)).toEqual(EBUSY);
    expect(m.destroyDomain(2)).toEqual(OK);
    expect(m.destroyDomain(1)).toEqual(OK);
  });
});

describe('nested domains: translate', () => {
  it('stage 1 then stage 2: pa is the parent\'s', () => {
    const m = stacked();
    expect(m.translate(0, null, 0x123n, 'read')).toEqual(pa(0x500123n));
    expect(m.translate(0, null, K4, 'read')).toEqual(NOT_MAPPED); // stage 1 fault
  });

  it('a stage-2 fault is the answer: an IPA the parent does not map is not-mapped', () => {
    const m = stacked();
    expect(m.map(2, K4, 0x90000n, K4, 3)).toEqual(OK);
    expect(m.allowedTranslations(0, null, K4, 'read')).toEqual([NOT_MAPPED]);
  });

  it('"A write needs WRITE at both stages"', () => {
    expect(stacked({}, {}, 1, 3).allowedTranslations(0, null, 0n, 'write')).toEqual([PERMISSION]);
    expect(stacked({}, {}, 3, 1).allowedTranslations(0, null, 0n, 'write')).toEqual([PERMISSION]);
    expect(stacked({}, {}, 3, 3).allowedTranslations(0, null, 0n, 'write')).toEqual([pa(0x500000n)]);
  });

  it('"A read of a write-only mapping at either stage may fault or succeed"', () => {
    expect(stacked({}, {}, 2, 3).allowedTranslations(0, null, 0n, 'read')).toEqual([PERMISSION, pa(0x500000n)]);
    expect(stacked({}, {}, 3, 2).allowedTranslations(0, null, 0n, 'read')).toEqual([PERMISSION, pa(0x500000n)]);
  });

  it('"The parent stays an ordinary paging domain": attached directly, it gives its own mapping', () => {
    const m = stacked();
    expect(m.attachDevice(1, 1)).toEqual(OK);
    expect(m.translate(1, null, 0x10000n, 'read')).toEqual(pa(0x500000n));
    expect(m.translate(1, null, 0n, 'read')).toEqual(NOT_MAPPED);
  });
});

describe('nested domains: coherency composes', () => {
  it('"when unmap of a strict parent returns, no translation through any nested domain over it may use what it removed"', () => {
    const m = stacked();
    expect(m.unmap(1, 0x10000n, K4)).toEqual({ ok: true, value: K4 });
    expect(m.allowedTranslations(0, null, 0n, 'read')).toEqual([NOT_MAPPED]);
    expect(m.check(tr(0, null, 0n), pa(0x500000n)).conforming).toBe(false);
  });

  it('a deferred parent keeps its stale answer for every nested domain until flush(parent); flush(nested) does not close it', () => {
    const m = stacked({ invalidation: 'deferred' });
    m.unmap(1, 0x10000n, K4);
    expect(m.check(tr(0, null, 0n), pa(0x500000n))).toMatchObject(STALE);
    expect(m.check(tr(0, null, 0n), NOT_MAPPED)).toMatchObject(CURRENT);
    expect(m.flush(2)).toEqual(OK);
    expect(m.check(tr(0, null, 0n), pa(0x500000n))).toMatchObject(STALE);
    expect(m.flush(1)).toEqual(OK);
    expect(m.check(tr(0, null, 0n), pa(0x500000n)).conforming).toBe(false);
  });

  it('a deferred nested domain keeps its stale stage-1 answer until flush(nested), through the parent\'s current stage 2', () => {
    const m = stacked({}, { invalidation: 'deferred' });
    m.unmap(2, 0n, K4);
    expect(m.check(tr(0, null, 0n), pa(0x500000n))).toMatchObject(STALE);
    m.flush(1);
    expect(m.check(tr(0, null, 0n), pa(0x500000n))).toMatchObject(STALE);
    // The stale IPA goes through the parent's current table: a parent remap moves it.
    m.unmap(1, 0x10000n, K4);
    m.map(1, 0x10000n, 0x700000n, K4, 3);
    expect(m.check(tr(0, null, 0n), pa(0x700000n))).toMatchObject(STALE);
    expect(m.check(tr(0, null, 0n), pa(0x500000n)).conforming).toBe(false);
    m.flush(2);
    expect(m.allowedTranslations(0, null, 0n, 'read')).toEqual([NOT_MAPPED]);
  });

  it('isolation: several nested domains over one parent see only their own IPAs', () => {
    const m = stacked();
    m.map(1, 0x20000n, 0x600000n, K4, 3);
    m.createDomain(3, { type: 'nested', parent: 1 });
    m.map(3, 0n, 0x20000n, K4, 3);
    m.attachPasid(1, 5, 3);
    expect(m.translate(1, 5, 0n, 'read')).toEqual(pa(0x600000n));
    expect(m.check(tr(1, 5, 0n), pa(0x500000n)).conforming).toBe(false);
    expect(m.check(tr(0, null, 0n), pa(0x600000n)).conforming).toBe(false);
  });
});

describe('PASID replace', () => {
  function two(): ReferenceIommu {
    const m = new ReferenceIommu(NESTING);
    m.createDomain(1);
    m.createDomain(2);
    m.map(1, 0n, 0x100000n, K4, 3);
    m.map(2, 0n, 0x200000n, K4, 3);
    expect(m.attachPasid(0, 1, 1)).toEqual(OK);
    return m;
  }

  it('"when it returns, that PASID translates through the new domain only"', () => {
    const m = two();
    expect(m.replacePasid(0, 1, 2)).toEqual(OK);
    expect(m.allowedTranslations(0, 1, 0n, 'read')).toEqual([pa(0x200000n)]);
  });

  it('"ENOENT if the domain is unknown or if (device, PASID) has no domain"; "a failed replace keeps the old domain"', () => {
    const m = two();
    expect(m.replacePasid(0, 1, 9)).toEqual(ENOENT);
    expect(m.replacePasid(0, 2, 2)).toEqual(ENOENT);
    expect(m.replacePasid(1, 1, 2)).toEqual(ENOENT);
    expect(m.translate(0, 1, 0n, 'read')).toEqual(pa(0x100000n));
  });

  it('"Replacing with the domain it already has succeeds and changes nothing"', () => {
    const m = two();
    expect(m.replacePasid(0, 1, 1)).toEqual(OK);
    expect(m.translate(0, 1, 0n, 'read')).toEqual(pa(0x100000n));
  });

  it('a replaced-away domain is no longer busy; the new one is', () => {
    const m = two();
    m.replacePasid(0, 1, 2);
    expect(m.destroyDomain(2)).toEqual(EBUSY);
    expect(m.destroyDomain(1)).toEqual(OK);
  });
});

describe('devices without PASIDs (pasidBits 0)', () => {
  it('every PASID call and every translate with a PASID is EINVAL; RID traffic works', () => {
    const m = new ReferenceIommu({ pasidBits: 0, pasidReplace: true });
    m.createDomain(1);
    m.map(1, 0n, 0x100000n, K4, 3);
    expect(m.attachPasid(0, 1, 1)).toEqual(EINVAL);
    expect(m.detachPasid(0, 1)).toEqual(EINVAL);
    expect(m.replacePasid(0, 1, 1)).toEqual(EINVAL);
    expect(m.translate(0, 1, 0n, 'read')).toEqual(EINVAL);
    expect(m.attachDevice(0, 1)).toEqual(OK);
    expect(m.translate(0, null, 0n, 'read')).toEqual(pa(0x100000n));
  });
});

describe('coarse faults', () => {
  it("'not-mapped' and 'permission' are interchangeable; 'blocked' stays distinct", () => {
    const m = new ReferenceIommu({ coarseFaults: true });
    m.createDomain(1);
    m.map(1, 0n, 0x100000n, K4, 1);
    m.attachDevice(0, 1);
    expect(m.allowedTranslations(0, null, 0n, 'write')).toEqual([PERMISSION, NOT_MAPPED]);
    expect(m.allowedTranslations(0, null, K4, 'read')).toEqual([NOT_MAPPED, PERMISSION]);
    expect(m.allowedTranslations(1, null, 0n, 'read')).toEqual([BLOCKED]);
    expect(m.check(tr(0, null, K4), PERMISSION).conforming).toBe(true);
    expect(m.check(tr(0, null, K4), BLOCKED).conforming).toBe(false);
    expect(new ReferenceIommu().allowedTranslations(0, null, 0n, 'read')).toEqual([BLOCKED]);
  });
});

describe('attachPasid of the domain the PASID already has (v2)', () => {
  it('EBUSY, as in the core API, or success, as in iommufd; another domain: EBUSY only', () => {
    const m = new ReferenceIommu();
    m.createDomain(1);
    m.createDomain(2);
    m.attachPasid(0, 1, 1);
    expect(m.check({ op: 'attachPasid', device: 0, pasid: 1, domain: 1 }, OK).conforming).toBe(true);
    expect(m.check({ op: 'attachPasid', device: 0, pasid: 1, domain: 1 }, EBUSY).conforming).toBe(true);
    expect(m.check({ op: 'attachPasid', device: 0, pasid: 1, domain: 2 }, OK).conforming).toBe(false);
  });
});
