// Directed tests of the model: translate (blocked, identity, aperture) and the coherency of
// deferred domains, with isolation (CONTRACT.md, "translate").
import { describe, expect, it } from 'vitest';
import { ReferenceIommu, type DomainOptions } from '../../model/index.ts';
import { OK, BLOCKED, NOT_MAPPED, PERMISSION, pa } from '../helpers/answers.ts';
import { tr } from '../helpers/calls.ts';
import { K4, PA_LIMIT, U64_MAX } from '../helpers/sizes.ts';

const CURRENT = { conforming: true, stale: false };
const STALE = { conforming: true, stale: true };

const DEFERRED: DomainOptions = { invalidation: 'deferred' };

/** Domain 1 with `options`, device 0 RID on it. */
function one(options?: DomainOptions): ReferenceIommu {
  const m = new ReferenceIommu();
  expect(m.createDomain(1, options)).toEqual(OK);
  expect(m.attachDevice(0, 1)).toEqual(OK);
  return m;
}

describe('translate: blocked, identity, aperture', () => {
  it('no domain, or a blocked domain: blocked', () => {
    const m = new ReferenceIommu();
    expect(m.translate(0, null, 0n, 'read')).toEqual(BLOCKED);
    m.createDomain(1, { type: 'blocked' });
    m.attachDevice(0, 1);
    m.attachPasid(0, 1, 1);
    for (const access of ['read', 'write'] as const) {
      expect(m.allowedTranslations(0, null, 0x1000n, access)).toEqual([BLOCKED]);
      expect(m.allowedTranslations(0, 1, U64_MAX, access)).toEqual([BLOCKED]);
    }
    expect(m.check(tr(0, null, 0n), NOT_MAPPED).conforming).toBe(false);
    expect(m.check(tr(0, null, 0n), pa(0n)).conforming).toBe(false);
  });

  it('identity: pa = iova for any access below 2^52', () => {
    const m = one({ type: 'identity' });
    for (const iova of [0n, 0x1234n, PA_LIMIT - 1n])
      for (const access of ['read', 'write'] as const) {
        expect(m.allowedTranslations(0, null, iova, access)).toEqual([pa(iova)]);
        expect(m.check(tr(0, null, iova, access), NOT_MAPPED).conforming).toBe(false);
      }
  });

  it("identity at or above 2^52: 'not-mapped' or pa = iova exactly, never a truncated address", () => {
    const m = one({ type: 'identity' });
    for (const iova of [PA_LIMIT, PA_LIMIT + 0x1234n, U64_MAX]) {
      // Decision (g): the face answers 'not-mapped'.
      expect(m.translate(0, null, iova, 'write')).toEqual(NOT_MAPPED);
      expect(m.allowedTranslations(0, null, iova, 'read')).toEqual([NOT_MAPPED, pa(iova)]);
      expect(m.check(tr(0, null, iova), NOT_MAPPED)).toMatchObject(CURRENT);
      expect(m.check(tr(0, null, iova), pa(iova))).toMatchObject(CURRENT);
      expect(m.check(tr(0, null, iova), pa(iova & (PA_LIMIT - 1n))).conforming).toBe(false);
      expect(m.check(tr(0, null, iova), pa(iova & U64_MAX & ~(1n << 63n))).conforming).toBe(iova < 1n << 63n);
      expect(m.check(tr(0, null, iova), BLOCKED).conforming).toBe(false);
    }
  });

  it("paging: an IOVA at or past the aperture is 'not-mapped'", () => {
    const m = one({ aperture: 1n << 21n });
    m.map(1, (1n << 21n) - K4, 0x40_0000n, K4, 3);
    expect(m.translate(0, null, (1n << 21n) - 1n, 'read')).toEqual(pa(0x40_0fffn));
    for (const iova of [1n << 21n, 1n << 48n, U64_MAX]) expect(m.allowedTranslations(0, null, iova, 'read')).toEqual([NOT_MAPPED]);
    const d = one();
    expect(d.allowedTranslations(0, null, 1n << 48n, 'write')).toEqual([NOT_MAPPED]);
  });

  it("paging, nothing mapped: 'not-mapped', not 'blocked'", () => {
    const m = one();
    expect(m.allowedTranslations(0, null, 0n, 'read')).toEqual([NOT_MAPPED]);
    expect(m.check(tr(0, null, 0n), BLOCKED).conforming).toBe(false);
  });
});

describe('deferred invalidation: the stale window', () => {
  it('unmap leaves the old answer allowed until flush', () => {
    const m = one(DEFERRED);
    m.map(1, 0n, 0x10_0000n, K4, 3);
    expect(m.unmap(1, 0n, K4)).toEqual({ ok: true, value: K4 });
    expect(m.translate(0, null, 0x10n, 'read')).toEqual(NOT_MAPPED); // the face answers the current state
    expect(m.allowedTranslations(0, null, 0x10n, 'read')).toEqual([NOT_MAPPED, pa(0x10_0010n)]);
    expect(m.check(tr(0, null, 0x10n), NOT_MAPPED)).toMatchObject(CURRENT);
    expect(m.check(tr(0, null, 0x10n), pa(0x10_0010n))).toMatchObject(STALE);
    expect(m.check(tr(0, null, 0x10n, 'write'), pa(0x10_0010n))).toMatchObject(STALE);
    expect(m.check(tr(0, null, 0x10n), pa(0x10_0000n)).conforming).toBe(false); // wrong offset
    expect(m.check(tr(0, null, K4), pa(0x10_1000n)).conforming).toBe(false); // never mapped
    expect(m.domainViews()[0].stale).toEqual([{ iova: 0n, size: K4, pa: 0x10_0000n, prot: 3 }]);
    expect(m.flush(1)).toEqual(OK);
    expect(m.allowedTranslations(0, null, 0x10n, 'read')).toEqual([NOT_MAPPED]);
    expect(m.check(tr(0, null, 0x10n), pa(0x10_0010n)).conforming).toBe(false);
    expect(m.domainViews()[0].stale).toEqual([]);
  });

  it('check() of a flush in a deferred domain closes the window too', () => {
    const m = one(DEFERRED);
    m.map(1, 0n, 0x10_0000n, K4, 3);
    m.unmap(1, 0n, K4);
    expect(m.check({ op: 'flush', domain: 1 }, OK)).toMatchObject(CURRENT);
    expect(m.check(tr(0, null, 0n), pa(0x10_0000n)).conforming).toBe(false);
  });

  it('several generations at one IOVA: the current or any old answer until flush', () => {
    const m = one(DEFERRED);
    const [A, B, C] = [0xa000n, 0xb000n, 0xc000n];
    m.map(1, 0n, A, K4, 3);
    m.unmap(1, 0n, K4);
    m.map(1, 0n, B, K4, 3);
    m.unmap(1, 0n, K4);
    m.map(1, 0n, C, K4, 3);
    expect(m.translate(0, null, 0x8n, 'read')).toEqual(pa(C + 8n));
    expect(m.allowedTranslations(0, null, 0x8n, 'read')).toEqual([pa(C + 8n), pa(A + 8n), pa(B + 8n)]);
    expect(m.check(tr(0, null, 0x8n), pa(C + 8n))).toMatchObject(CURRENT);
    expect(m.check(tr(0, null, 0x8n), pa(A + 8n))).toMatchObject(STALE);
    expect(m.check(tr(0, null, 0x8n), pa(B + 8n))).toMatchObject(STALE);
    expect(m.check(tr(0, null, 0x8n), NOT_MAPPED).conforming).toBe(false); // it is mapped now
    m.flush(1);
    expect(m.allowedTranslations(0, null, 0x8n, 'read')).toEqual([pa(C + 8n)]);
  });

  it('the stale answer uses the old prot: a write through an old read-only mapping is a permission fault', () => {
    const m = one(DEFERRED);
    m.map(1, 0n, 0xa000n, K4, 1);
    m.unmap(1, 0n, K4);
    // Decision (f): 'permission' is the stale answer for a write; the old pa is not allowed for it.
    expect(m.allowedTranslations(0, null, 0n, 'write')).toEqual([NOT_MAPPED, PERMISSION]);
    expect(m.check(tr(0, null, 0n, 'write'), PERMISSION)).toMatchObject(STALE);
    expect(m.check(tr(0, null, 0n, 'write'), pa(0xa000n)).conforming).toBe(false);
    expect(m.check(tr(0, null, 0n, 'read'), pa(0xa000n))).toMatchObject(STALE);
    // Mapped again read-write elsewhere: the write answers the new pa or the old permission fault.
    m.map(1, 0n, 0xb000n, K4, 3);
    expect(m.allowedTranslations(0, null, 0n, 'write')).toEqual([pa(0xb000n), PERMISSION]);
    expect(m.check(tr(0, null, 0n, 'write'), pa(0xa000n)).conforming).toBe(false);
  });

  it('a stale write-only mapping: a read may answer permission or its old pa', () => {
    const m = one(DEFERRED);
    m.map(1, 0n, 0xa000n, K4, 2);
    m.unmap(1, 0n, K4);
    expect(m.allowedTranslations(0, null, 0n, 'read')).toEqual([NOT_MAPPED, PERMISSION, pa(0xa000n)]);
    expect(m.allowedTranslations(0, null, 0n, 'write')).toEqual([NOT_MAPPED, pa(0xa000n)]);
  });

  it('a split unmap makes only the removed part stale', () => {
    const m = one(DEFERRED);
    m.map(1, 0n, 0x10_0000n, 4n * K4, 3);
    expect(m.unmap(1, K4, K4)).toEqual({ ok: true, value: K4 });
    expect(m.allowedTranslations(0, null, K4 + 4n, 'read')).toEqual([NOT_MAPPED, pa(0x10_1004n)]);
    expect(m.allowedTranslations(0, null, 0n, 'read')).toEqual([pa(0x10_0000n)]);
    expect(m.allowedTranslations(0, null, 2n * K4, 'read')).toEqual([pa(0x10_2000n)]);
    expect(m.domainViews()[0].stale).toEqual([{ iova: K4, size: K4, pa: 0x10_1000n, prot: 3 }]);
  });

  it('a stale page does not make map answer EEXIST', () => {
    const m = one(DEFERRED);
    m.map(1, 0n, 0xa000n, K4, 3);
    m.unmap(1, 0n, K4);
    expect(m.allowedErrors({ op: 'map', domain: 1, iova: 0n, pa: 0xb000n, size: K4, prot: 3 }).errors).toEqual([]);
  });

  it("a stale page does not count in unmap's bytes, nor as a cut in 'whole' mode", () => {
    const m = one({ invalidation: 'deferred', unmap: 'whole' });
    m.map(1, 0n, 0xa000n, 2n * K4, 3);
    m.unmap(1, 0n, 2n * K4);
    expect(m.unmap(1, 0n, K4)).toEqual({ ok: true, value: 0n });
  });

  it('attach and detach neither open nor close the window; it belongs to the domain', () => {
    const m = one(DEFERRED);
    m.map(1, 0n, 0xa000n, K4, 3);
    m.unmap(1, 0n, K4);
    m.detachDevice(0);
    expect(m.allowedTranslations(0, null, 0n, 'read')).toEqual([BLOCKED]); // detach is strict
    m.attachDevice(0, 1);
    expect(m.check(tr(0, null, 0n), pa(0xa000n))).toMatchObject(STALE);
    // A device attached after the unmap may see the stale answer too, by RID or by PASID.
    m.attachDevice(5, 1);
    m.attachPasid(6, 3, 1);
    expect(m.check(tr(5, null, 0n), pa(0xa000n))).toMatchObject(STALE);
    expect(m.check(tr(6, 3, 0n), pa(0xa000n))).toMatchObject(STALE);
    // Attaching does not open a window either: a strict domain's unmap gives none after attach.
    m.createDomain(2);
    m.map(2, 0n, 0xb000n, K4, 3);
    m.unmap(2, 0n, K4);
    m.attachDevice(7, 2);
    expect(m.allowedTranslations(7, null, 0n, 'read')).toEqual([NOT_MAPPED]);
    m.flush(1);
    for (const [d, p] of [[0, null], [5, null], [6, 3]] as const) expect(m.allowedTranslations(d, p, 0n, 'read')).toEqual([NOT_MAPPED]);
  });

  it('destroy closes the window: a re-created id has no stale answers', () => {
    const m = one(DEFERRED);
    m.map(1, 0n, 0xa000n, K4, 3);
    m.unmap(1, 0n, K4);
    m.detachDevice(0);
    expect(m.destroyDomain(1)).toEqual(OK);
    m.createDomain(1, DEFERRED);
    m.attachDevice(0, 1);
    expect(m.allowedTranslations(0, null, 0n, 'read')).toEqual([NOT_MAPPED]);
    expect(m.check(tr(0, null, 0n), pa(0xa000n)).conforming).toBe(false);
  });

  it('a strict domain never allows a stale answer', () => {
    const m = one({ invalidation: 'strict' });
    m.map(1, 0n, 0xa000n, K4, 3);
    m.unmap(1, 0n, K4);
    expect(m.allowedTranslations(0, null, 0n, 'read')).toEqual([NOT_MAPPED]);
    expect(m.check(tr(0, null, 0n), pa(0xa000n)).conforming).toBe(false);
    m.map(1, 0n, 0xb000n, K4, 3);
    expect(m.check(tr(0, null, 0n), pa(0xa000n)).conforming).toBe(false);
    expect(m.domainViews()[0].stale).toEqual([]);
  });

  it("isolation: a device attached to another domain never gets the first domain's stale answers", () => {
    const m = one(DEFERRED);
    m.createDomain(2, DEFERRED);
    m.attachDevice(1, 2);
    m.attachPasid(0, 1, 2);
    m.map(1, 0n, 0xa000n, K4, 3);
    m.unmap(1, 0n, K4);
    expect(m.check(tr(0, null, 0n), pa(0xa000n))).toMatchObject(STALE);
    for (const [d, p] of [[1, null], [0, 1]] as const) {
      expect(m.allowedTranslations(d, p, 0n, 'read')).toEqual([NOT_MAPPED]);
      expect(m.check(tr(d, p, 0n), pa(0xa000n)).conforming).toBe(false);
    }
    // Moving device 0 to domain 2: it no longer gets domain 1's stale answers.
    m.attachDevice(0, 2);
    expect(m.check(tr(0, null, 0n), pa(0xa000n)).conforming).toBe(false);
    // A flush of the other domain does not close domain 1's window.
    m.flush(2);
    m.attachDevice(0, 1);
    expect(m.check(tr(0, null, 0n), pa(0xa000n))).toMatchObject(STALE);
  });
});
