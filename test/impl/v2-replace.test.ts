// FastIommu v2: replacePasid (CONTRACT.md "PASID replace"), directed tests: its errors, the
// replacement in one step, the same domain, attachPasid's EBUSY kept, and replacement under cached
// traffic (IOTLB entries are tagged by domain, so the old domain's entries stop answering that
// PASID as soon as the context entry changes). Every test ends with the self-check empty.
import { describe, expect, it } from 'vitest';
import { FastIommu } from '../../impl/index.ts';

const K4 = 0x1000n;
const OK = { ok: true };
const err = (error: string) => ({ ok: false, error });
const pa = (x: bigint) => ({ ok: true, pa: x });
const fault = (f: string) => ({ ok: false, fault: f });

function check(io: FastIommu): void {
  expect(io.checkInvariants()).toEqual([]);
}
/** Paging domains 1 and 2, each mapping IOVA 0 to its own PA (0x1000000 * id), PASID 7 of device 0 on domain 1. */
function twoDomains(): FastIommu {
  const io = new FastIommu({ capabilities: { pasidReplace: true, nesting: true } });
  for (const id of [1, 2]) {
    expect(io.createDomain(id)).toEqual(OK);
    expect(io.map(id, 0n, BigInt(id) * 0x100_0000n, 0x4000n, 3)).toEqual(OK);
  }
  expect(io.attachPasid(0, 7, 1)).toEqual(OK);
  return io;
}

describe('FastIommu v2: replacePasid', () => {
  it('answers EINVAL for bad arguments, ENOENT for an unknown domain or a PASID without a domain', () => {
    const io = twoDomains();
    for (const [d, p, dom] of [[-1, 7, 2], [0, 0, 2], [0, 2 ** 20, 2], [0, 1.5, 2], [0, 7, -1], [0, 7, 2 ** 32], [0, null, 2]] as const)
      expect(io.replacePasid(d as number, p as number, dom as number)).toEqual(err('EINVAL'));
    expect(io.replacePasid(0, 7, 9)).toEqual(err('ENOENT'));
    expect(io.replacePasid(0, 8, 2)).toEqual(err('ENOENT')); // that PASID has no domain
    expect(io.replacePasid(1, 7, 2)).toEqual(err('ENOENT')); // nor does that device
    // A failed replace keeps the old domain.
    expect(io.translate(0, 7, 0x10n, 'read')).toEqual(pa(0x100_0010n));
    check(io);
  });

  it('replaces in one step; the same domain succeeds and changes nothing; attachPasid of it stays EBUSY', () => {
    const io = twoDomains();
    expect(io.replacePasid(0, 7, 1)).toEqual(OK);
    expect(io.translate(0, 7, 0x10n, 'read')).toEqual(pa(0x100_0010n));
    expect(io.attachPasid(0, 7, 1)).toEqual(err('EBUSY'));
    expect(io.attachPasid(0, 7, 2)).toEqual(err('EBUSY'));
    check(io);
    expect(io.replacePasid(0, 7, 2)).toEqual(OK);
    expect(io.translate(0, 7, 0x10n, 'read')).toEqual(pa(0x200_0010n));
    // The attachment moved: domain 1 may go, domain 2 is busy.
    expect(io.destroyDomain(2)).toEqual(err('EBUSY'));
    expect(io.destroyDomain(1)).toEqual(OK);
    check(io);
    expect(io.detachPasid(0, 7)).toEqual(OK);
    expect(io.translate(0, 7, 0x10n, 'read')).toEqual(fault('blocked'));
    expect(io.replacePasid(0, 7, 2)).toEqual(err('ENOENT')); // detached: nothing to replace
    check(io);
  });

  it('under cached traffic: the old domain answers that PASID no more, its other users keep their entries', () => {
    const io = twoDomains();
    expect(io.attachDevice(0, 1)).toEqual(OK); // RID traffic of device 0 also on domain 1
    expect(io.attachPasid(1, 7, 1)).toEqual(OK); // and device 1's PASID 7
    for (let k = 0n; k < 4n; k++) {
      expect(io.translate(0, 7, k * K4, 'read')).toEqual(pa(0x100_0000n + k * K4));
      expect(io.translate(1, 7, k * K4, 'read')).toEqual(pa(0x100_0000n + k * K4));
    }
    expect(io.translate(0, 7, 0n, 'read')).toEqual(pa(0x100_0000n)); // a hit on domain 1's entry
    const { iotlbEntries, iotlbHits } = io.stats();
    expect(iotlbEntries).toBe(4);
    expect(io.replacePasid(0, 7, 2)).toEqual(OK);
    expect(io.stats().iotlbEntries).toBe(4); // no invalidation needed: entries are tagged by domain
    for (let k = 0n; k < 4n; k++) {
      expect(io.translate(0, 7, k * K4, 'write')).toEqual(pa(0x200_0000n + k * K4));
      expect(io.translate(0, null, k * K4, 'read')).toEqual(pa(0x100_0000n + k * K4)); // RID: still domain 1
      expect(io.translate(1, 7, k * K4, 'read')).toEqual(pa(0x100_0000n + k * K4)); // other device: still domain 1
    }
    // The RID's and device 1's reads hit domain 1's entries; the PASID's writes miss into domain 2.
    expect(io.stats().iotlbHits - iotlbHits).toBe(8);
    // And back: domain 1's cached entries serve the PASID again, with domain 1's current state.
    expect(io.unmap(1, K4, K4)).toEqual({ ok: true, value: K4 });
    expect(io.replacePasid(0, 7, 1)).toEqual(OK);
    expect(io.translate(0, 7, 0n, 'read')).toEqual(pa(0x100_0000n));
    expect(io.translate(0, 7, K4, 'read')).toEqual(fault('not-mapped'));
    check(io);
  });

  it('to and from a nested domain, an identity and a blocked domain', () => {
    const io = twoDomains();
    expect(io.createDomain(3, { type: 'nested', parent: 2 })).toEqual(OK);
    expect(io.createDomain(4, { type: 'identity' })).toEqual(OK);
    expect(io.createDomain(5, { type: 'blocked' })).toEqual(OK);
    expect(io.map(3, 0x5000n, K4, K4, 1)).toEqual(OK); // IOVA 0x5000 -> IPA 0x1000 -> PA 0x2001000
    expect(io.translate(0, 7, 0x5000n, 'read')).toEqual(fault('not-mapped'));
    expect(io.replacePasid(0, 7, 3)).toEqual(OK);
    expect(io.translate(0, 7, 0x5008n, 'read')).toEqual(pa(0x200_1008n));
    expect(io.translate(0, 7, 0x5008n, 'write')).toEqual(fault('permission'));
    expect(io.destroyDomain(2)).toEqual(err('EBUSY')); // the parent of 3
    expect(io.replacePasid(0, 7, 4)).toEqual(OK);
    expect(io.translate(0, 7, 0x5008n, 'write')).toEqual(pa(0x5008n));
    expect(io.replacePasid(0, 7, 5)).toEqual(OK);
    expect(io.translate(0, 7, 0x5008n, 'read')).toEqual(fault('blocked'));
    expect(io.replacePasid(0, 7, 3)).toEqual(OK);
    expect(io.translate(0, 7, 0x5008n, 'read')).toEqual(pa(0x200_1008n)); // a hit, from before
    check(io);
    expect(io.detachPasid(0, 7)).toEqual(OK);
    for (const id of [3, 2, 1, 4, 5]) expect(io.destroyDomain(id)).toEqual(OK);
    check(io);
  });
});
