// FastIommu v2: nested domains (stage 1 over a paging parent), directed tests of each rule of
// CONTRACT.md "Nested domains" and "Options of undeclared capabilities", and of the IOTLB's
// combined entries and their invalidation (impl/iotlb.ts, impl/fast-iommu.ts). Every test ends with
// the self-check empty.
import { describe, expect, it } from 'vitest';
import { DEFAULT_CAPABILITIES, FastIommu } from '../../impl/index.ts';
import type { DomainOptions } from '../../model/types.ts';

const K4 = 0x1000n;
const M2 = 0x20_0000n;
const G1 = 0x4000_0000n;
const OK = { ok: true };
const err = (error: string) => ({ ok: false, error });
const pa = (x: bigint) => ({ ok: true, pa: x });
const fault = (f: string) => ({ ok: false, fault: f });
const V2 = { nesting: true, pasidReplace: true };

function check(io: FastIommu): void {
  expect(io.checkInvariants()).toEqual([]);
}
/** A v2 FastIommu with parent paging domain 1 (IPA -> PA) and nested domain 2 over it on device 0. */
function nestedSetup(parent: DomainOptions = {}, nested: Omit<DomainOptions, 'type' | 'parent'> = {}, iotlbSize?: number): FastIommu {
  const io = new FastIommu({ capabilities: V2, ...(iotlbSize === undefined ? {} : { iotlbSize }) });
  expect(io.createDomain(1, parent)).toEqual(OK);
  expect(io.createDomain(2, { type: 'nested', parent: 1, ...nested })).toEqual(OK);
  expect(io.attachDevice(0, 2)).toEqual(OK);
  return io;
}

/**
 * Maps IOVA pages [0, pages) of nested domain 2 to IPA `ipa` onwards and those IPAs of parent 1
 * to PA `base` onwards, then reads each page once through device 0 (filling the IOTLB).
 */
function mapAndWarm(io: FastIommu, pages: bigint, ipa: bigint, base: bigint): void {
  expect(io.map(2, 0n, ipa, pages * K4, 3)).toEqual(OK);
  expect(io.map(1, ipa, base, pages * K4, 3)).toEqual(OK);
  for (let k = 0n; k < pages; k++) expect(io.translate(0, null, k * K4, 'read')).toEqual(pa(base + k * K4));
}

describe('FastIommu v2: capabilities', () => {
  it('the default FastIommu declares nesting and pasidReplace; { capabilities: {} } is the pure v1 one', () => {
    const io = new FastIommu();
    expect(io.capabilities).toEqual({ nesting: true, pasidReplace: true, dirtyTracking: true });
    expect(io.capabilities).toBe(DEFAULT_CAPABILITIES);
    expect(io.createDomain(1)).toEqual(OK);
    expect(io.createDomain(2, { type: 'nested', parent: 1 })).toEqual(OK);
    const v1 = new FastIommu({ capabilities: {} });
    expect(v1.capabilities).toEqual({});
    expect(v1.createDomain(1)).toEqual(OK);
    // Option keys of an undeclared capability are unknown keys, whatever their value.
    expect(v1.createDomain(2, { type: 'nested', parent: 1 })).toEqual(err('EINVAL'));
    expect(v1.createDomain(2, { type: 'nested' } as DomainOptions)).toEqual(err('EINVAL'));
    expect(v1.createDomain(2, { parent: 1 })).toEqual(err('EINVAL'));
    expect(v1.createDomain(2, { type: 'paging', parent: 1 })).toEqual(err('EINVAL'));
    expect(v1.createDomain(2, { parent: undefined })).toEqual(OK); // undefined is absent
    // replacePasid of an undeclared capability: EINVAL, even for a call that would succeed.
    expect(v1.attachPasid(0, 1, 1)).toEqual(OK);
    expect(v1.replacePasid(0, 1, 2)).toEqual(err('EINVAL'));
    expect(v1.replacePasid(0, 1, 1)).toEqual(err('EINVAL'));
    check(io);
    check(v1);
  });

  it('accepts the v2 capability fields, pasidBits 0 included, and refuses what it does not implement', () => {
    const none = new FastIommu({ capabilities: { pasidBits: 0 } });
    expect(none.createDomain(1)).toEqual(OK);
    expect(none.attachPasid(0, 1, 1)).toEqual(err('EINVAL'));
    expect(none.detachPasid(0, 1)).toEqual(err('EINVAL'));
    expect(none.translate(0, 1, 0n, 'read')).toEqual(err('EINVAL'));
    expect(none.translate(0, null, 0n, 'read')).toEqual(fault('blocked'));
    expect(() => new FastIommu({ capabilities: { coarseFaults: true, nesting: false } })).not.toThrow();
    expect(() => new FastIommu({ capabilities: { nesting: 1 as unknown as boolean } })).toThrow(/nesting must be a boolean/);
    expect(() => new FastIommu({ capabilities: { pasidReplace: 'yes' as unknown as boolean } })).toThrow(TypeError);
    expect(() => new FastIommu({ capabilities: { pasidBits: -1 } })).toThrow(TypeError);
    expect(() => new FastIommu({ capabilities: { dirtyTracking: true } })).not.toThrow();
  });
});

describe('FastIommu v2: createDomain of a nested domain', () => {
  it('checks the parent: missing or misplaced EINVAL, unknown ENOENT, not a paging domain EINVAL', () => {
    const io = new FastIommu({ capabilities: V2 });
    expect(io.createDomain(1)).toEqual(OK);
    expect(io.createDomain(3, { type: 'identity' })).toEqual(OK);
    expect(io.createDomain(4, { type: 'blocked' })).toEqual(OK);
    expect(io.createDomain(2, { type: 'nested' })).toEqual(err('EINVAL')); // missing
    expect(io.createDomain(2, { type: 'nested', parent: -1 })).toEqual(err('EINVAL'));
    expect(io.createDomain(2, { type: 'nested', parent: 1.5 })).toEqual(err('EINVAL'));
    expect(io.createDomain(2, { type: 'nested', parent: '1' as unknown as number })).toEqual(err('EINVAL'));
    expect(io.createDomain(2, { type: 'nested', parent: null as unknown as number })).toEqual(err('EINVAL'));
    expect(io.createDomain(2, { parent: 1 })).toEqual(err('EINVAL')); // misplaced: on paging
    expect(io.createDomain(2, { type: 'identity', parent: 1 })).toEqual(err('EINVAL'));
    expect(io.createDomain(2, { type: 'blocked', parent: 1 })).toEqual(err('EINVAL'));
    expect(io.createDomain(2, { type: 'nested', parent: 9 })).toEqual(err('ENOENT'));
    expect(io.createDomain(2, { type: 'nested', parent: 3 })).toEqual(err('EINVAL')); // identity
    expect(io.createDomain(2, { type: 'nested', parent: 4 })).toEqual(err('EINVAL')); // blocked
    expect(io.createDomain(2, { type: 'nested', parent: 1, levels: 6 as never })).toEqual(err('EINVAL'));
    expect(io.createDomain(2, { type: 'nested', parent: 1, dirtyTracking: true } as never)).toEqual(err('EINVAL'));
    expect(io.createDomain(1, { type: 'nested', parent: 1 })).toEqual(err('EEXIST'));
    expect(io.createDomain(2, { type: 'nested', parent: 1, levels: 3, pageSizes: [K4], invalidation: 'deferred', unmap: 'whole', aperture: 1n << 30n })).toEqual(OK);
    expect(io.createDomain(5, { type: 'nested', parent: 2 })).toEqual(err('EINVAL')); // nested
    expect(io.stats().domains).toBe(4);
    check(io);
  });

  it('options whose reading throws are EINVAL, not a throw', () => {
    const io = new FastIommu();
    const options = {
      get levels(): number {
        throw new Error('boom');
      },
    };
    expect(io.createDomain(1, options as never)).toEqual(err('EINVAL'));
    check(io);
  });

  it('ENOSPC counts nested domains like any other', () => {
    const io = new FastIommu({ capabilities: { ...V2, maxDomains: 2 } });
    expect(io.createDomain(1)).toEqual(OK);
    expect(io.createDomain(2, { type: 'nested', parent: 1 })).toEqual(OK);
    expect(io.createDomain(3, { type: 'nested', parent: 1 })).toEqual(err('ENOSPC'));
    check(io);
  });

  it('destroyDomain(parent) is EBUSY while a nested domain over it exists; the child may go first', () => {
    const io = new FastIommu({ capabilities: V2 });
    expect(io.createDomain(1)).toEqual(OK);
    expect(io.createDomain(2, { type: 'nested', parent: 1 })).toEqual(OK);
    expect(io.createDomain(3, { type: 'nested', parent: 1 })).toEqual(OK);
    expect(io.destroyDomain(1)).toEqual(err('EBUSY'));
    expect(io.destroyDomain(2)).toEqual(OK);
    expect(io.destroyDomain(1)).toEqual(err('EBUSY'));
    check(io);
    expect(io.destroyDomain(3)).toEqual(OK);
    expect(io.destroyDomain(1)).toEqual(OK);
    // Re-created, the parent has no children.
    expect(io.createDomain(1)).toEqual(OK);
    expect(io.destroyDomain(1)).toEqual(OK);
    check(io);
  });
});

describe('FastIommu v2: map, unmap and translate through a nested domain', () => {
  it('map takes an IPA (ERANGE past 2^52), unmap and flush work as on paging domains', () => {
    const io = nestedSetup({}, { aperture: 1n << 32n });
    expect(io.map(2, 0n, (1n << 52n) - K4, K4, 3)).toEqual(OK);
    expect(io.map(2, K4, 1n << 52n, K4, 3)).toEqual(err('ERANGE'));
    expect(io.map(2, 1n << 32n, 0n, K4, 3)).toEqual(err('ERANGE')); // the nested domain's own aperture
    expect(io.map(2, K4, 0x1001n, K4, 3)).toEqual(err('EINVAL'));
    expect(io.map(2, 0n, 0n, K4, 3)).toEqual(err('EEXIST'));
    expect(io.unmap(2, 0n, M2)).toEqual({ ok: true, value: K4 });
    expect(io.flush(2)).toEqual(OK);
    check(io);
  });

  it('composes the stages: a stage-1 fault is the answer, then a stage-2 one; a write needs WRITE at both', () => {
    const io = nestedSetup();
    // Stage 1: IOVA 0x10000 -> IPA 0x800000 (rw), IOVA 0x20000 -> IPA 0x900000 (r), 0x30000 -> IPA 0xa00000 (rw).
    expect(io.map(2, 0x10000n, 0x80_0000n, K4, 3)).toEqual(OK);
    expect(io.map(2, 0x20000n, 0x90_0000n, K4, 1)).toEqual(OK);
    expect(io.map(2, 0x30000n, 0xa0_0000n, K4, 3)).toEqual(OK);
    expect(io.map(2, 0x40000n, 0x1_0000_0000_0000n, K4, 3)).toEqual(OK); // an IPA past the parent's aperture
    // Stage 2: IPA 0x800000 -> PA 0x5000000 (rw), IPA 0x900000 -> PA 0x6000000 (rw), 0xa00000 -> 0x7000000 (r).
    expect(io.map(1, 0x80_0000n, 0x500_0000n, K4, 3)).toEqual(OK);
    expect(io.map(1, 0x90_0000n, 0x600_0000n, K4, 3)).toEqual(OK);
    expect(io.map(1, 0xa0_0000n, 0x700_0000n, K4, 1)).toEqual(OK);
    for (let round = 0; round < 2; round++) {
      // Round 0 walks (misses), round 1 hits the combined entries: the same answers.
      expect(io.translate(0, null, 0x10123n, 'read')).toEqual(pa(0x500_0123n));
      expect(io.translate(0, null, 0x10123n, 'write')).toEqual(pa(0x500_0123n));
      expect(io.translate(0, null, 0x20008n, 'read')).toEqual(pa(0x600_0008n));
      expect(io.translate(0, null, 0x20008n, 'write')).toEqual(fault('permission')); // stage 1
      expect(io.translate(0, null, 0x30008n, 'read')).toEqual(pa(0x700_0008n));
      expect(io.translate(0, null, 0x30008n, 'write')).toEqual(fault('permission')); // stage 2
      expect(io.translate(0, null, 0x50000n, 'read')).toEqual(fault('not-mapped')); // stage 1
      expect(io.translate(0, null, 0x40000n, 'read')).toEqual(fault('not-mapped')); // stage 2 (aperture)
      check(io);
    }
    expect(io.stats().iotlbHits).toBe(3 + 6); // round 0: each write after its read; round 1: all six
    // A stage-1 permission fault stays the answer when stage 2 does not map the IPA.
    expect(io.map(2, 0x60000n, 0xb0_0000n, K4, 1)).toEqual(OK);
    expect(io.translate(0, null, 0x60000n, 'write')).toEqual(fault('permission'));
    expect(io.translate(0, null, 0x60000n, 'read')).toEqual(fault('not-mapped'));
    // Write-only at stage 1 or 2: a read faults (FastIommu's v1 choice, conforming).
    expect(io.map(2, 0x70000n, 0xc0_0000n, K4, 2)).toEqual(OK);
    expect(io.map(1, 0xc0_0000n, 0x800_0000n, K4, 3)).toEqual(OK);
    expect(io.translate(0, null, 0x70000n, 'write')).toEqual(pa(0x800_0000n));
    expect(io.translate(0, null, 0x70000n, 'read')).toEqual(fault('permission'));
    check(io);
  });

  it('caches the combined translation at the smaller leaf: 2M stage 1 over 4K stage 2, and 4K over 1G', () => {
    const io = nestedSetup();
    expect(io.map(2, M2, 4n * M2, M2, 3)).toEqual(OK); // one 2M leaf: IOVA 2M -> IPA 8M
    expect(io.map(1, 4n * M2, 3n * G1, M2, 3)).toEqual(OK); // IPA 8M -> PA 3G: a 2M leaf
    expect(io.unmap(1, 4n * M2 + 0x5000n, K4)).toEqual({ ok: true, value: K4 }); // split into 4K leaves
    expect(io.translate(0, null, M2 + 0x4010n, 'read')).toEqual(pa(3n * G1 + 0x4010n));
    expect(io.translate(0, null, M2 + 0x5010n, 'read')).toEqual(fault('not-mapped'));
    expect(io.translate(0, null, M2 + 0x6010n, 'read')).toEqual(pa(3n * G1 + 0x6010n));
    // 4K stage-1 pages over a 1G stage-2 leaf.
    expect(io.map(2, 0x4000_0000_0000n, G1 + 0x7000n, K4, 3)).toEqual(OK);
    expect(io.map(1, G1, 5n * G1, G1, 3)).toEqual(OK);
    expect(io.translate(0, null, 0x4000_0000_0abcn, 'write')).toEqual(pa(5n * G1 + 0x7abcn));
    expect(io.stats().iotlbEntries).toBe(3);
    check(io);
    // Hits give the same.
    expect(io.translate(0, null, M2 + 0x4fffn, 'read')).toEqual(pa(3n * G1 + 0x4fffn));
    expect(io.translate(0, null, 0x4000_0000_0001n, 'read')).toEqual(pa(5n * G1 + 0x7001n));
    expect(io.stats().iotlbHits).toBe(2);
    check(io);
  });

  it('a strict parent unmap invalidates the cached combined entry: the nested translation faults', () => {
    const io = nestedSetup();
    mapAndWarm(io, 16n, 0x40_0000n, 0x1000_0000n);
    expect(io.stats().iotlbEntries).toBe(16);
    // Unmap IPA page 0x403000 in the parent: only the combined entry of IOVA 0x3000 goes.
    expect(io.unmap(1, 0x40_3000n, K4)).toEqual({ ok: true, value: K4 });
    expect(io.stats().iotlbEntries).toBe(15);
    check(io);
    expect(io.translate(0, null, 0x3000n, 'read')).toEqual(fault('not-mapped'));
    expect(io.translate(0, null, 0x4000n, 'read')).toEqual(pa(0x1000_4000n)); // still a hit
    // Re-mapped elsewhere, the nested domain follows at once.
    expect(io.map(1, 0x40_3000n, 0x2000_0000n, K4, 1)).toEqual(OK);
    expect(io.translate(0, null, 0x3000n, 'read')).toEqual(pa(0x2000_0000n));
    expect(io.translate(0, null, 0x3000n, 'write')).toEqual(fault('permission'));
    check(io);
  });

  it('a strict parent unmap of an IPA range spanning a large combined entry', () => {
    const io = nestedSetup({}, {}, Number.POSITIVE_INFINITY);
    expect(io.map(2, 0n, 0n, G1, 3)).toEqual(OK); // IOVA = IPA, one 1G leaf
    expect(io.map(1, 0n, G1, G1, 3)).toEqual(OK); // IPA -> PA + 1G, one 1G leaf
    expect(io.translate(0, null, 0x1234_5678n, 'read')).toEqual(pa(G1 + 0x1234_5678n));
    expect(io.stats().iotlbEntries).toBe(1); // one 1G combined entry
    expect(io.unmap(1, 0x3000_0000n, K4)).toEqual({ ok: true, value: K4 }); // splits the parent's 1G leaf
    expect(io.stats().iotlbEntries).toBe(0);
    check(io);
    expect(io.translate(0, null, 0x3000_0000n, 'read')).toEqual(fault('not-mapped'));
    expect(io.translate(0, null, 0x1234_5678n, 'read')).toEqual(pa(G1 + 0x1234_5678n));
    check(io);
  });

  it("a deferred parent's unmap may leave cached combined answers until its flush, which removes them", () => {
    const io = nestedSetup({ invalidation: 'deferred' });
    mapAndWarm(io, 8n, 0x40_0000n, 0x1000_0000n);
    expect(io.unmap(1, 0x40_2000n, 0x2000n)).toEqual({ ok: true, value: 0x2000n });
    expect(io.stats().pendingInvalidations).toBe(1);
    check(io); // stale, but pending
    // Until the flush, the stale answer (FastIommu keeps it) or the current one conform.
    expect(io.translate(0, null, 0x2000n, 'read')).toEqual(pa(0x1000_2000n));
    expect(io.flush(2)).toEqual(OK); // the nested domain's flush closes only its own window
    expect(io.translate(0, null, 0x2000n, 'read')).toEqual(pa(0x1000_2000n));
    expect(io.flush(1)).toEqual(OK);
    expect(io.stats().iotlbEntries).toBe(6);
    expect(io.translate(0, null, 0x2000n, 'read')).toEqual(fault('not-mapped'));
    expect(io.translate(0, null, 0x3000n, 'read')).toEqual(fault('not-mapped'));
    expect(io.translate(0, null, 0x4000n, 'read')).toEqual(pa(0x1000_4000n));
    check(io);
  });

  it('a deferred parent flush with many queued ranges invalidates each child domain-wide', () => {
    const io = nestedSetup({ invalidation: 'deferred' });
    mapAndWarm(io, 64n, 0x40_0000n, 0x1000_0000n);
    for (let k = 0n; k < 10n; k++) expect(io.unmap(1, 0x40_0000n + 2n * k * K4, K4)).toEqual({ ok: true, value: K4 });
    expect(io.stats().pendingInvalidations).toBe(10);
    check(io);
    expect(io.flush(1)).toEqual(OK);
    expect(io.stats().iotlbEntries).toBe(0); // stricter than needed, which conforms
    expect(io.translate(0, null, 0n, 'read')).toEqual(fault('not-mapped'));
    expect(io.translate(0, null, K4, 'read')).toEqual(pa(0x1000_1000n));
    check(io);
  });

  it("a deferred parent's full flush queue completes its children's invalidations too", () => {
    const io = nestedSetup({ invalidation: 'deferred' }, {}, Number.POSITIVE_INFINITY);
    const n = 600n;
    mapAndWarm(io, n, 0x4000_0000n, 0x1000_0000n);
    // Every other page: 300 ranges that do not merge, beyond the queue's 256.
    for (let k = 0n; k < n; k += 2n) expect(io.unmap(1, 0x4000_0000n + k * K4, K4)).toEqual({ ok: true, value: K4 });
    expect(io.stats().flushQueueOverflows).toBe(1);
    check(io);
    expect(io.translate(0, null, 0n, 'read')).toEqual(fault('not-mapped')); // overflowed: invalidated
    check(io);
  });

  it("a nested domain's own strict unmap invalidates its combined entries by IOVA; deferred keeps them until its flush", () => {
    for (const invalidation of ['strict', 'deferred'] as const) {
      const io = nestedSetup({}, { invalidation });
      mapAndWarm(io, 4n, 0x40_0000n, 0x1000_0000n);
      expect(io.unmap(2, K4, K4)).toEqual({ ok: true, value: K4 });
      check(io);
      expect(io.translate(0, null, K4, 'read')).toEqual(invalidation === 'strict' ? fault('not-mapped') : pa(0x1000_1000n));
      expect(io.flush(1)).toEqual(OK); // the parent's flush does not close the nested window
      expect(io.translate(0, null, K4, 'read')).toEqual(invalidation === 'strict' ? fault('not-mapped') : pa(0x1000_1000n));
      expect(io.flush(2)).toEqual(OK);
      expect(io.translate(0, null, K4, 'read')).toEqual(fault('not-mapped'));
      expect(io.translate(0, null, 2n * K4, 'read')).toEqual(pa(0x1000_2000n));
      check(io);
    }
  });

  it('several nested domains over one parent, the parent also attached directly', () => {
    const io = new FastIommu({ capabilities: V2 });
    expect(io.createDomain(1)).toEqual(OK);
    expect(io.createDomain(2, { type: 'nested', parent: 1 })).toEqual(OK);
    expect(io.createDomain(3, { type: 'nested', parent: 1, invalidation: 'deferred' })).toEqual(OK);
    expect(io.createDomain(4, { type: 'nested', parent: 1, levels: 3 })).toEqual(OK);
    expect(io.createDomain(5)).toEqual(OK); // an unrelated paging domain
    expect(io.attachDevice(0, 2)).toEqual(OK);
    expect(io.attachDevice(1, 3)).toEqual(OK);
    expect(io.attachPasid(1, 5, 4)).toEqual(OK);
    expect(io.attachDevice(2, 1)).toEqual(OK); // the parent, directly: IPA = IOVA
    expect(io.attachDevice(3, 5)).toEqual(OK);
    // All three stage 1s reach IPA 0x800000 from different IOVAs.
    expect(io.map(2, 0x1000n, 0x80_0000n, K4, 3)).toEqual(OK);
    expect(io.map(3, 0x2000n, 0x80_0000n, K4, 3)).toEqual(OK);
    expect(io.map(4, 0x3000n, 0x80_0000n, K4, 1)).toEqual(OK);
    expect(io.map(1, 0x80_0000n, 0x900_0000n, M2, 3)).toEqual(OK);
    expect(io.map(5, 0x80_0000n, 0x700_0000n, K4, 3)).toEqual(OK);
    const all = (): unknown[] => [
      io.translate(0, null, 0x1010n, 'write'),
      io.translate(1, null, 0x2010n, 'read'),
      io.translate(1, 5, 0x3010n, 'read'),
      io.translate(1, 5, 0x3010n, 'write'),
      io.translate(2, null, 0x80_0010n, 'read'),
      io.translate(3, null, 0x80_0010n, 'read'),
    ];
    const before = [pa(0x900_0010n), pa(0x900_0010n), pa(0x900_0010n), fault('permission'), pa(0x900_0010n), pa(0x700_0010n)];
    expect(all()).toEqual(before);
    expect(all()).toEqual(before); // hits
    expect(io.stats().iotlbEntries).toBe(5);
    check(io);
    // The strict parent's unmap reaches every child's combined entry and its own.
    expect(io.unmap(1, 0x80_0000n, M2)).toEqual({ ok: true, value: M2 });
    expect(io.stats().iotlbEntries).toBe(1); // domain 5's
    expect(all()).toEqual([fault('not-mapped'), fault('not-mapped'), fault('not-mapped'), fault('permission'), fault('not-mapped'), pa(0x700_0010n)]);
    check(io);
    // Destroying the children one by one: the parent stays busy until the last goes (and it is detached).
    for (const [dev, pasid, id] of [[0, null, 2], [1, null, 3], [1, 5, 4]] as const) {
      expect(io.destroyDomain(1)).toEqual(err('EBUSY'));
      expect(pasid === null ? io.detachDevice(dev) : io.detachPasid(dev, pasid)).toEqual(OK);
      expect(io.destroyDomain(id)).toEqual(OK);
      check(io);
    }
    expect(io.destroyDomain(1)).toEqual(err('EBUSY')); // still attached to device 2
    expect(io.detachDevice(2)).toEqual(OK);
    expect(io.destroyDomain(1)).toEqual(OK);
    check(io);
  });

  it('a nested domain re-created under the same id sees none of its predecessor, and works without an IOTLB', () => {
    for (const iotlbSize of [0, 1, 1024]) {
      const io = nestedSetup({}, {}, iotlbSize);
      expect(io.map(2, 0n, 0x40_0000n, K4, 3)).toEqual(OK);
      expect(io.map(1, 0x40_0000n, 0x1000_0000n, 0x2000n, 3)).toEqual(OK);
      expect(io.translate(0, null, 0n, 'read')).toEqual(pa(0x1000_0000n));
      expect(io.detachDevice(0)).toEqual(OK);
      expect(io.destroyDomain(2)).toEqual(OK);
      expect(io.createDomain(2, { type: 'nested', parent: 1 })).toEqual(OK);
      expect(io.attachDevice(0, 2)).toEqual(OK);
      expect(io.translate(0, null, 0n, 'read')).toEqual(fault('not-mapped'));
      expect(io.map(2, 0n, 0x40_1000n, K4, 3)).toEqual(OK);
      expect(io.translate(0, null, 0n, 'read')).toEqual(pa(0x1000_1000n));
      check(io);
    }
  });

  it('the self-check sees a combined entry gone stale, a wrong child count and a broken children list', () => {
    const io = nestedSetup();
    expect(io.map(2, 0n, 0x40_0000n, K4, 3)).toEqual(OK);
    expect(io.map(1, 0x40_0000n, 0x1000_0000n, K4, 3)).toEqual(OK);
    expect(io.translate(0, null, 0n, 'read')).toEqual(pa(0x1000_0000n));
    check(io);
    const state = io as unknown as { domains: Map<number, { children: unknown[]; childTlbEntries: number }>; arena: { pte: Float64Array } };
    const parent = state.domains.get(1)!;
    // Rewrite the parent's leaf behind the IOTLB's back (as a missing invalidation would leave it).
    const pte = state.arena.pte;
    const i = pte.indexOf(0x1_0000 * 16 + 15); // the parent's 4K leaf: PA page 0x10000, leaf, valid, rw
    expect(i).toBeGreaterThanOrEqual(0);
    pte[i] = pte[i]! + 16;
    expect(io.checkInvariants().join('\n')).toMatch(/nested domain 2 .*stale/);
    pte[i] = pte[i]! - 16;
    check(io);
    parent.childTlbEntries++;
    expect(io.checkInvariants().join('\n')).toMatch(/domain 1: counts 2 IOTLB entries through it, its children hold 1/);
    parent.childTlbEntries--;
    const child = parent.children.pop();
    expect(io.checkInvariants().join('\n')).toMatch(/listed 0 times among parent 1's children/);
    parent.children.push(child, child);
    expect(io.checkInvariants().join('\n')).toMatch(/listed 2 times/);
    parent.children.pop();
    check(io);
  });
});
