import { describe, expect, it } from 'vitest';
import { FastIommu } from '../../impl/index.ts';
import type { DomainOptions } from '../../model/types.ts';
import { pa, fault, bytes, EINVAL, ENOENT, EEXIST, EBUSY, ERANGE, ENOSPC } from '../helpers/answers.ts';
import { K4, M2, G1 } from '../helpers/sizes.ts';


/** A FastIommu whose invariants are checked by `check()`. */
function fresh(opts?: ConstructorParameters<typeof FastIommu>[0]): FastIommu {
  return new FastIommu(opts);
}
function check(io: FastIommu): void {
  expect(io.checkInvariants()).toEqual([]);
}
/** Creates paging domain `id` attached to device `dev` (RID). */
function setup(io: FastIommu, id = 1, options?: DomainOptions, dev = 0): void {
  expect(io.createDomain(id, options)).toEqual({ ok: true });
  expect(io.attachDevice(dev, id)).toEqual({ ok: true });
}

describe('FastIommu: argument validity', () => {
  it('answers EINVAL for out-of-range arguments of every method, before anything else', () => {
    const io = fresh();
    const bad: unknown[] = [-1, 1.5, NaN, 2 ** 32, '1', undefined, null, 1n];
    for (const x of bad) {
      expect(io.createDomain(x as number)).toEqual(EINVAL);
      expect(io.destroyDomain(x as number)).toEqual(EINVAL);
      expect(io.attachDevice(x as number, 1)).toEqual(EINVAL);
      expect(io.detachDevice(x as number)).toEqual(EINVAL);
      expect(io.flush(x as number)).toEqual(EINVAL);
      expect(io.translate(x as number, null, 0n, 'read')).toEqual(EINVAL);
    }
    // Unknown domain, but bad arguments come first.
    expect(io.map(7, 0x1000n, 0n, 4096 as unknown as bigint, 3)).toEqual(EINVAL);
    expect(io.map(7, -1n, 0n, K4, 3)).toEqual(EINVAL);
    expect(io.map(7, 0n, 1n << 64n, K4, 3)).toEqual(EINVAL);
    expect(io.map(7, 0n, 0n, K4, 0)).toEqual(EINVAL);
    expect(io.map(7, 0n, 0n, K4, 4)).toEqual(EINVAL);
    expect(io.unmap(7, 0n, 4096 as unknown as bigint)).toEqual(EINVAL);
    expect(io.attachPasid(0, 0, 1)).toEqual(EINVAL);
    expect(io.attachPasid(0, 2 ** 20, 1)).toEqual(EINVAL);
    expect(io.detachPasid(0, null as unknown as number)).toEqual(EINVAL);
    expect(io.translate(0, 0, 0n, 'read')).toEqual(EINVAL);
    expect(io.translate(0, undefined as unknown as null, 0n, 'read')).toEqual(EINVAL);
    expect(io.translate(0, null, 0n, 'exec' as 'read')).toEqual(EINVAL);
    expect(io.translate(0, null, 1n << 64n, 'read')).toEqual(EINVAL);
    expect(io.translate(0, null, 0 as unknown as bigint, "read")).toEqual(EINVAL);
    check(io);
  });

  it('honours declared capabilities', () => {
    const io = fresh({ capabilities: { deviceIdBits: 24, pasidBits: 8, maxDomains: 2, levels: [3, 4], pageSizes: [K4, M2] } });
    expect(io.capabilities).toEqual({ deviceIdBits: 24, pasidBits: 8, maxDomains: 2, levels: [3, 4], pageSizes: [K4, M2] });
    expect(io.attachDevice(2 ** 24, 1)).toEqual(EINVAL);
    expect(io.attachDevice(2 ** 24 - 1, 1)).toEqual(ENOENT);
    expect(io.attachPasid(0, 256, 1)).toEqual(EINVAL);
    expect(io.createDomain(1, { levels: 5 })).toEqual(EINVAL);
    expect(io.createDomain(1, { pageSizes: [K4, G1] })).toEqual(EINVAL);
    expect(io.createDomain(1)).toEqual({ ok: true });
    expect(io.createDomain(2, { type: 'identity' })).toEqual({ ok: true });
    expect(io.createDomain(3)).toEqual(ENOSPC);
    expect(io.destroyDomain(2)).toEqual({ ok: true });
    expect(io.createDomain(3)).toEqual({ ok: true });
    // Default page sizes come from the capabilities: a 1G aligned map uses 2M leaves.
    expect(io.map(1, 0n, 0n, G1, 3)).toEqual({ ok: true });
    expect(io.stats().tablePages).toBe(1 + 2 + 1 /* domain 3's root */);
    check(io);
    // Without options it declares the v2 capabilities it implements; `{}` is the v1 IOMMU.
    expect(new FastIommu().capabilities).toEqual({ nesting: true, pasidReplace: true, dirtyTracking: true });
    expect(new FastIommu({ capabilities: {} }).capabilities).toEqual({});
  });

  it('rejects bad constructor options', () => {
    expect(() => new FastIommu({ iotlbSize: -1 })).toThrow(TypeError);
    expect(() => new FastIommu({ iotlbSize: 1.5 })).toThrow(TypeError);
    expect(() => new FastIommu({ capabilities: { deviceIdBits: 0 } })).toThrow(TypeError);
    expect(() => new FastIommu({ deviceIdBits: 24 } as never)).toThrow(/unknown FastIommu option/);
    expect(() => new FastIommu(null as never)).toThrow(TypeError);
  });
});

describe('FastIommu: domains and attachments', () => {
  it('createDomain: bad options, EEXIST', () => {
    const io = fresh();
    for (const o of [null, 5, [], { foo: 1 }, { type: 'x' }, { levels: 6 }, { pageSizes: [M2] }, { type: 'identity', levels: 4 }, { aperture: 1n << 20n }, { aperture: 3n << 30n }, { aperture: 1n << 49n }])
      expect(io.createDomain(1, o as DomainOptions)).toEqual(EINVAL);
    expect(io.createDomain(1, { pageSizes: [K4, K4] })).toEqual({ ok: true });
    expect(io.createDomain(1)).toEqual(EEXIST);
    expect(io.createDomain(1, { foo: 1 } as DomainOptions)).toEqual(EINVAL);
    expect(io.stats().domains).toBe(1);
    check(io);
  });

  it('destroyDomain: ENOENT, EBUSY while attached to a RID or a PASID', () => {
    const io = fresh();
    expect(io.destroyDomain(1)).toEqual(ENOENT);
    setup(io, 1);
    expect(io.destroyDomain(1)).toEqual(EBUSY);
    expect(io.detachDevice(0)).toEqual({ ok: true });
    expect(io.attachPasid(3, 9, 1)).toEqual({ ok: true });
    expect(io.destroyDomain(1)).toEqual(EBUSY);
    expect(io.detachPasid(3, 9)).toEqual({ ok: true });
    expect(io.destroyDomain(1)).toEqual({ ok: true });
    expect(io.destroyDomain(1)).toEqual(ENOENT);
    expect(io.stats().tablePages).toBe(0);
    check(io);
  });

  it('attach, replace, detach; PASIDs never fall back to the RID domain', () => {
    const io = fresh();
    expect(io.attachDevice(0, 1)).toEqual(ENOENT);
    expect(io.detachDevice(0)).toEqual(ENOENT);
    expect(io.createDomain(1)).toEqual({ ok: true });
    expect(io.createDomain(2)).toEqual({ ok: true });
    expect(io.map(1, 0n, 0x10_0000n, K4, 3)).toEqual({ ok: true });
    expect(io.map(2, 0n, 0x20_0000n, K4, 3)).toEqual({ ok: true });
    expect(io.translate(0, null, 0n, 'read')).toEqual(fault('blocked'));
    expect(io.attachDevice(0, 1)).toEqual({ ok: true });
    expect(io.translate(0, null, 0x10n, 'read')).toEqual(pa(0x10_0010n));
    expect(io.attachDevice(0, 2)).toEqual({ ok: true }); // replace, though domain 1's entry is cached
    expect(io.translate(0, null, 0x10n, 'read')).toEqual(pa(0x20_0010n));
    expect(io.destroyDomain(1)).toEqual({ ok: true }); // no longer attached
    expect(io.translate(0, 5, 0x10n, 'read')).toEqual(fault('blocked'));
    expect(io.attachPasid(0, 5, 9)).toEqual(ENOENT);
    expect(io.detachPasid(0, 5)).toEqual(ENOENT);
    expect(io.createDomain(3)).toEqual({ ok: true });
    expect(io.attachPasid(0, 5, 3)).toEqual({ ok: true });
    expect(io.attachPasid(0, 5, 3)).toEqual(EBUSY);
    expect(io.attachPasid(0, 5, 2)).toEqual(EBUSY);
    expect(io.translate(0, 5, 0x10n, 'read')).toEqual(fault('not-mapped'));
    expect(io.map(3, 0n, 0x30_0000n, K4, 1)).toEqual({ ok: true });
    expect(io.translate(0, 5, 0x10n, 'read')).toEqual(pa(0x30_0010n));
    expect(io.translate(0, null, 0x10n, 'read')).toEqual(pa(0x20_0010n));
    expect(io.translate(0, 6, 0x10n, 'read')).toEqual(fault('blocked'));
    expect(io.detachDevice(0)).toEqual({ ok: true });
    expect(io.translate(0, null, 0x10n, 'read')).toEqual(fault('blocked'));
    expect(io.translate(0, 5, 0x10n, 'read')).toEqual(pa(0x30_0010n));
    expect(io.detachPasid(0, 5)).toEqual({ ok: true });
    expect(io.translate(0, 5, 0x10n, 'read')).toEqual(fault('blocked'));
    check(io);
  });

  it('identity and blocked domains', () => {
    const io = fresh();
    expect(io.createDomain(1, { type: 'identity' })).toEqual({ ok: true });
    expect(io.createDomain(2, { type: 'blocked' })).toEqual({ ok: true });
    expect(io.attachDevice(1, 1)).toEqual({ ok: true });
    expect(io.attachDevice(2, 2)).toEqual({ ok: true });
    expect(io.translate(1, null, 0x1234_5678n, 'write')).toEqual(pa(0x1234_5678n));
    expect(io.translate(1, null, (1n << 52n) - 1n, 'read')).toEqual(pa((1n << 52n) - 1n));
    expect(io.translate(1, null, 1n << 52n, 'read')).toEqual(fault('not-mapped'));
    expect(io.translate(2, null, 0n, 'read')).toEqual(fault('blocked'));
    expect(io.map(1, 0n, 0n, K4, 3)).toEqual(EINVAL);
    expect(io.unmap(2, 0n, K4)).toEqual(EINVAL);
    expect(io.flush(1)).toEqual({ ok: true });
    expect(io.flush(9)).toEqual(ENOENT);
    expect(io.map(9, 0n, 0n, K4, 3)).toEqual(ENOENT);
    expect(io.unmap(9, 0n, K4)).toEqual(ENOENT);
    check(io);
  });

  it('a re-created domain id is empty and sees no stale IOTLB entry', () => {
    const io = fresh();
    setup(io, 1, { invalidation: 'deferred' });
    expect(io.map(1, 0n, 0x40_0000n, M2, 3)).toEqual({ ok: true });
    expect(io.translate(0, null, 0x1000n, 'read')).toEqual(pa(0x40_1000n));
    expect(io.stats().iotlbEntries).toBe(1);
    expect(io.detachDevice(0)).toEqual({ ok: true });
    expect(io.destroyDomain(1)).toEqual({ ok: true });
    expect(io.stats().iotlbEntries).toBe(0);
    setup(io, 1, { invalidation: 'deferred' });
    expect(io.translate(0, null, 0x1000n, 'read')).toEqual(fault('not-mapped'));
    expect(io.unmap(1, 0n, M2)).toEqual(bytes(0n));
    check(io);
  });
});

describe('FastIommu: map', () => {
  it('errors in order, and a failed map changes nothing', () => {
    const io = fresh();
    setup(io, 1, { levels: 3 }); // aperture 2^39
    expect(io.map(1, 0n, 0n, 0n, 3)).toEqual(EINVAL);
    expect(io.map(1, 0x800n, 0n, K4, 3)).toEqual(EINVAL);
    expect(io.map(1, 0n, 0x800n, K4, 3)).toEqual(EINVAL);
    expect(io.map(1, 0n, 0n, 0x1800n, 3)).toEqual(EINVAL);
    expect(io.map(1, (1n << 39n) - K4, 0n, 2n * K4, 3)).toEqual(ERANGE);
    expect(io.map(1, 1n << 39n, 0n, K4, 3)).toEqual(ERANGE);
    expect(io.map(1, 0n, 1n << 52n, K4, 3)).toEqual(ERANGE);
    expect(io.map(1, 0n, (1n << 52n) - K4, 2n * K4, 3)).toEqual(ERANGE);
    expect(io.map(1, 0n, (1n << 52n) - K4, K4, 3)).toEqual({ ok: true });
    expect(io.translate(0, null, 0xfffn, 'write')).toEqual(pa((1n << 52n) - 1n));
    expect(io.map(1, 0x10_0000n, 0x10_0000n, K4, 3)).toEqual({ ok: true });
    const before = io.stats().tablePages;
    // Overlaps at the end of a large range: EEXIST and nothing written.
    expect(io.map(1, 0n, 0n, G1, 3)).toEqual(EEXIST);
    expect(io.map(1, 0x8_0000n, 0x8_0000n, 0x8_1000n, 3)).toEqual(EEXIST);
    expect(io.translate(0, null, 0x8_0000n, 'read')).toEqual(fault('not-mapped'));
    expect(io.translate(0, null, 0x20_0000n, 'read')).toEqual(fault('not-mapped'));
    expect(io.stats().tablePages).toBe(before);
    expect(io.stats().mappedPages).toBe(2);
    check(io);
  });

  it('uses 1G and 2M leaves when aligned (few table pages) and 4K otherwise', () => {
    const io = fresh();
    setup(io, 1);
    expect(io.map(1, G1, 2n * G1, G1, 3)).toEqual({ ok: true });
    expect(io.stats().tablePages).toBe(2); // root + one level-2 table holding the 1G leaf
    expect(io.translate(0, null, G1 + 0x1234_5678n, 'read')).toEqual(pa(2n * G1 + 0x1234_5678n));
    // 2M-aligned IOVA but only 4K-aligned PA: 512 4K leaves in one table.
    expect(io.map(1, 4n * G1, 0x1000n, M2, 1)).toEqual({ ok: true });
    expect(io.stats().tablePages).toBe(2 + 2);
    // Mixed: 4K head, 2M middle, 4K tail.
    expect(io.map(1, 8n * G1 - K4, 16n * G1 - K4, M2 + 2n * K4, 2)).toEqual({ ok: true });
    expect(io.translate(0, null, 8n * G1 - K4, 'write')).toEqual(pa(16n * G1 - K4));
    expect(io.translate(0, null, 8n * G1 + M2, 'write')).toEqual(pa(16n * G1 + M2));
    expect(io.translate(0, null, 8n * G1 + M2 + K4, 'write')).toEqual(fault('not-mapped'));
    check(io);
    // A domain limited to 4K pages: a 2M map takes 512 PTEs.
    setup(io, 2, { pageSizes: [K4] }, 1);
    const t0 = io.stats().tablePages;
    expect(io.map(2, 0n, 0n, M2, 3)).toEqual({ ok: true });
    expect(io.stats().tablePages - t0).toBe(3);
    expect(io.translate(1, null, M2 - 1n, 'read')).toEqual(pa(M2 - 1n));
    check(io);
  });

  it('maps and unmaps 1 TiB of 1G pages in O(leaves), and a 5-level domain above 2^53', () => {
    const io = fresh();
    setup(io, 1, { levels: 5 });
    const t = performance.now();
    expect(io.map(1, 0n, 0n, 1024n * G1, 3)).toEqual({ ok: true });
    expect(io.translate(0, null, 1023n * G1 + 5n, 'read')).toEqual(pa(1023n * G1 + 5n));
    const hi = (1n << 56n) + 0x12_3000n;
    expect(io.map(1, hi, 0x7000n, K4, 3)).toEqual({ ok: true });
    expect(io.translate(0, null, hi + 0x45n, 'read')).toEqual(pa(0x7045n));
    expect(io.translate(0, null, (1n << 57n) - 1n, 'read')).toEqual(fault('not-mapped'));
    check(io);
    expect(io.unmap(1, 0n, 1n << 57n)).toEqual(bytes(1024n * G1 + K4));
    expect(performance.now() - t).toBeLessThan(500);
    expect(io.stats().tablePages).toBe(1);
    check(io);
  });
});

describe('FastIommu: translate', () => {
  it('permissions: write needs WRITE, read of write-only faults', () => {
    const io = fresh();
    setup(io, 1);
    expect(io.map(1, 0n, 0x10_0000n, K4, 1)).toEqual({ ok: true });
    expect(io.map(1, K4, 0x20_0000n, K4, 2)).toEqual({ ok: true });
    expect(io.map(1, 2n * K4, 0x30_0000n, K4, 3)).toEqual({ ok: true });
    for (let round = 0; round < 2; round++) {
      // Second round answers from the IOTLB.
      expect(io.translate(0, null, 0n, 'read')).toEqual(pa(0x10_0000n));
      expect(io.translate(0, null, 0n, 'write')).toEqual(fault('permission'));
      expect(io.translate(0, null, K4, 'read')).toEqual(fault('permission'));
      expect(io.translate(0, null, K4, 'write')).toEqual(pa(0x20_0000n));
      expect(io.translate(0, null, 2n * K4 + 7n, 'write')).toEqual(pa(0x30_0007n));
      expect(io.translate(0, null, 3n * K4, 'read')).toEqual(fault('not-mapped'));
      expect(io.translate(0, null, 1n << 48n, 'read')).toEqual(fault('not-mapped'));
    }
    expect(io.stats().iotlbHits).toBeGreaterThan(0);
    check(io);
  });

  it('a smaller aperture: beyond it is not-mapped and ERANGE', () => {
    const io = fresh();
    setup(io, 1, { aperture: 1n << 32n });
    expect(io.map(1, (1n << 32n) - K4, 0n, K4, 3)).toEqual({ ok: true });
    expect(io.map(1, 1n << 32n, 0n, K4, 3)).toEqual(ERANGE);
    expect(io.unmap(1, 1n << 32n, K4)).toEqual(ERANGE);
    expect(io.translate(0, null, 1n << 32n, 'read')).toEqual(fault('not-mapped'));
    check(io);
  });
});

describe("FastIommu: unmap 'split'", () => {
  it('splits 1G and 2M leaves and returns the bytes that were mapped', () => {
    const io = fresh();
    setup(io, 1);
    expect(io.map(1, 0n, G1, G1, 3)).toEqual({ ok: true });
    expect(io.translate(0, null, 0x30_0000n, 'read')).toEqual(pa(G1 + 0x30_0000n)); // cache the 1G leaf
    expect(io.unmap(1, 0x30_1000n, K4)).toEqual(bytes(K4));
    expect(io.translate(0, null, 0x30_1000n, 'read')).toEqual(fault('not-mapped'));
    expect(io.translate(0, null, 0x30_0000n, 'read')).toEqual(pa(G1 + 0x30_0000n));
    expect(io.translate(0, null, 0x30_2000n, 'read')).toEqual(pa(G1 + 0x30_2000n));
    expect(io.translate(0, null, 0x40_0000n, 'read')).toEqual(pa(G1 + 0x40_0000n));
    expect(io.stats().tablePages).toBe(4); // root, L2, the split 1G (L1), the split 2M (L0)
    check(io);
    // Straddling range: half mapped.
    expect(io.unmap(1, G1 - M2, 2n * M2)).toEqual(bytes(M2));
    expect(io.unmap(1, 0x30_0000n, M2)).toEqual(bytes(M2 - K4));
    expect(io.unmap(1, 0x30_0000n, M2)).toEqual(bytes(0n));
    check(io);
    expect(io.unmap(1, 0n, 1n << 48n)).toEqual(bytes(G1 - 2n * M2));
    expect(io.stats().tablePages).toBe(1);
    expect(io.stats().mappedPages).toBe(0);
    check(io);
  });

  it('8 GiB of 1G pages then 512 scattered 4K split unmaps stays fast and leak-free', () => {
    const io = fresh();
    setup(io, 1);
    expect(io.map(1, 0n, 0n, 8n * G1, 3)).toEqual({ ok: true });
    const t = performance.now();
    for (let i = 0n; i < 512n; i++) expect(io.unmap(1, i * 8n * M2 + 5n * K4, K4)).toEqual(bytes(K4));
    expect(performance.now() - t).toBeLessThan(200);
    expect(io.translate(0, null, 5n * K4, 'read')).toEqual(fault('not-mapped'));
    expect(io.translate(0, null, 6n * K4, 'read')).toEqual(pa(6n * K4));
    check(io);
    expect(io.unmap(1, 0n, 8n * G1)).toEqual(bytes(8n * G1 - 512n * K4));
    expect(io.stats().tablePages).toBe(1);
    check(io);
  });

  it('unmap of nothing returns 0; errors', () => {
    const io = fresh();
    setup(io, 1);
    expect(io.unmap(1, 0n, G1)).toEqual(bytes(0n));
    expect(io.unmap(1, 0n, 0n)).toEqual(EINVAL);
    expect(io.unmap(1, 0x800n, K4)).toEqual(EINVAL);
    expect(io.unmap(1, 0n, 0x800n)).toEqual(EINVAL);
    expect(io.unmap(1, (1n << 48n) - K4, 2n * K4)).toEqual(ERANGE);
    check(io);
  });
});

describe("FastIommu: unmap 'whole' (virtio-iommu examples)", () => {
  const P = (n: bigint) => n * K4;
  const mk = () => {
    const io = fresh();
    setup(io, 1, { unmap: 'whole' });
    return io;
  };
  it('map [0,9] unmap [0,9]', () => {
    const io = mk();
    expect(io.map(1, P(0n), 0n, P(10n), 3)).toEqual({ ok: true });
    expect(io.unmap(1, P(0n), P(10n))).toEqual(bytes(P(10n)));
    expect(io.translate(0, null, P(3n), 'read')).toEqual(fault('not-mapped'));
    check(io);
  });
  it('map [0,4],[5,9] unmap [0,9] removes both', () => {
    const io = mk();
    expect(io.map(1, P(0n), 0n, P(5n), 3)).toEqual({ ok: true });
    expect(io.map(1, P(5n), P(100n), P(5n), 3)).toEqual({ ok: true });
    expect(io.unmap(1, P(0n), P(10n))).toEqual(bytes(P(10n)));
    expect(io.stats().mappedPages).toBe(0);
    check(io);
  });
  it('map [0,9] unmap [0,4] is EINVAL and changes nothing', () => {
    const io = mk();
    expect(io.map(1, P(0n), 0n, P(10n), 3)).toEqual({ ok: true });
    expect(io.unmap(1, P(0n), P(5n))).toEqual(EINVAL);
    expect(io.unmap(1, P(5n), P(5n))).toEqual(EINVAL);
    expect(io.unmap(1, P(3n), P(1n))).toEqual(EINVAL);
    expect(io.translate(0, null, P(2n), 'read')).toEqual(pa(P(2n)));
    expect(io.stats().mappedPages).toBe(10);
    check(io);
  });
  it('map [0,4],[10,14] unmap [0,14] removes both; unmap of nothing is 0', () => {
    const io = mk();
    expect(io.map(1, P(0n), 0n, P(5n), 3)).toEqual({ ok: true });
    expect(io.map(1, P(10n), 0n, P(5n), 3)).toEqual({ ok: true });
    expect(io.unmap(1, P(0n), P(15n))).toEqual(bytes(P(10n)));
    expect(io.unmap(1, P(0n), P(15n))).toEqual(bytes(0n));
    expect(io.stats().tablePages).toBe(1);
    check(io);
  });
  it('large extents with superpages, and a range holding some extents among others', () => {
    const io = mk();
    expect(io.map(1, 0n, 0n, G1 + M2, 3)).toEqual({ ok: true });
    expect(io.map(1, 2n * G1, 0n, K4, 3)).toEqual({ ok: true });
    expect(io.map(1, 3n * G1, 0n, K4, 3)).toEqual({ ok: true });
    expect(io.unmap(1, 0n, G1)).toEqual(EINVAL);
    expect(io.unmap(1, K4, 3n * G1)).toEqual(EINVAL);
    expect(io.unmap(1, G1 + M2, G1)).toEqual(bytes(K4));
    expect(io.unmap(1, 0n, 4n * G1)).toEqual(bytes(G1 + M2 + K4));
    expect(io.stats().tablePages).toBe(1);
    check(io);
  });
});

describe('FastIommu: IOTLB and invalidation', () => {
  it('strict: unmap is visible at once; deferred: stale answers until flush', () => {
    const io = fresh();
    setup(io, 1, {}, 0);
    setup(io, 2, { invalidation: 'deferred' }, 1);
    for (const d of [1, 2]) {
      expect(io.map(d, 0n, 0x10_0000n, M2, 3)).toEqual({ ok: true });
      expect(io.translate(d - 1, null, 0x5000n, 'write')).toEqual(pa(0x10_5000n));
      expect(io.unmap(d, 0x5000n, K4)).toEqual(bytes(K4));
    }
    expect(io.translate(0, null, 0x5000n, 'write')).toEqual(fault('not-mapped'));
    expect(io.translate(0, null, 0x6000n, 'write')).toEqual(pa(0x10_6000n));
    // Deferred: the cached 2M leaf still answers, for the unmapped page too.
    expect(io.translate(1, null, 0x5000n, 'write')).toEqual(pa(0x10_5000n));
    expect(io.translate(1, null, 0x6000n, 'write')).toEqual(pa(0x10_6000n));
    expect(io.stats().pendingInvalidations).toBe(1);
    check(io);
    // Remap before flush: current or old answer; a never-unmapped page maps at once.
    expect(io.map(2, 0x5000n, 0x99_9000n, K4, 1)).toEqual({ ok: true });
    expect([pa(0x10_5000n), pa(0x99_9000n)]).toContainEqual(io.translate(1, null, 0x5000n, 'read'));
    expect(io.translate(1, null, M2, 'read')).toEqual(fault('not-mapped'));
    expect(io.map(2, M2, 0x70_0000n, K4, 1)).toEqual({ ok: true });
    expect(io.translate(1, null, M2, 'read')).toEqual(pa(0x70_0000n));
    check(io);
    // Attach/detach neither opens nor closes the window.
    expect(io.attachDevice(1, 1)).toEqual({ ok: true });
    expect(io.attachDevice(1, 2)).toEqual({ ok: true });
    expect(io.translate(1, null, 0x5000n, 'write')).toEqual(pa(0x10_5000n));
    expect(io.flush(2)).toEqual({ ok: true });
    expect(io.stats().pendingInvalidations).toBe(0);
    expect(io.translate(1, null, 0x5000n, 'write')).toEqual(fault('permission'));
    expect(io.translate(1, null, 0x5000n, 'read')).toEqual(pa(0x99_9000n));
    expect(io.translate(1, null, 0x6000n, 'read')).toEqual(pa(0x10_6000n));
    check(io);
    // Destroy closes the window too.
    expect(io.translate(1, null, 0x6000n, 'read')).toEqual(pa(0x10_6000n));
    expect(io.unmap(2, 0n, G1)).toEqual(bytes(M2 + K4));
    expect(io.translate(1, null, 0x6000n, 'read')).toEqual(pa(0x10_6000n));
    expect(io.detachDevice(1)).toEqual({ ok: true });
    expect(io.destroyDomain(2)).toEqual({ ok: true });
    expect(io.createDomain(2, { invalidation: 'deferred' })).toEqual({ ok: true });
    expect(io.attachDevice(1, 2)).toEqual({ ok: true });
    expect(io.translate(1, null, 0x6000n, 'read')).toEqual(fault('not-mapped'));
    check(io);
  });

  it('a full flush queue invalidates the whole domain', () => {
    const io = fresh();
    setup(io, 1, { invalidation: 'deferred' });
    for (let i = 0n; i < 600n; i++) expect(io.map(1, 2n * i * K4, 0n, K4, 3)).toEqual({ ok: true });
    for (let i = 0n; i < 600n; i++) io.translate(0, null, 2n * i * K4, 'read');
    for (let i = 0n; i < 600n; i++) {
      expect(io.unmap(1, 2n * i * K4, K4)).toEqual(bytes(K4));
      check(io);
    }
    expect(io.stats().flushQueueOverflows).toBeGreaterThan(0);
    expect(io.flush(1)).toEqual({ ok: true });
    expect(io.stats().iotlbEntries).toBe(0);
    check(io);
  }, 20_000);

  it('IOTLB sizes 0, 8 and Infinity', () => {
    for (const size of [0, 8, Number.POSITIVE_INFINITY]) {
      const io = fresh({ iotlbSize: size });
      setup(io, 1);
      expect(io.map(1, 0n, 0n, 64n * K4, 3)).toEqual({ ok: true });
      for (let r = 0; r < 3; r++)
        for (let i = 0n; i < 64n; i++) expect(io.translate(0, null, i * K4 + 1n, 'read')).toEqual(pa(i * K4 + 1n));
      const s = io.stats();
      expect(s.iotlbCapacity).toBe(size);
      expect(s.iotlbEntries).toBe(Math.min(size, 64));
      if (size === 0) expect(s.iotlbHits + s.iotlbMisses).toBe(0);
      if (size === 8) expect(s.iotlbEvictions).toBeGreaterThan(0);
      if (size === Number.POSITIVE_INFINITY) expect(s.iotlbHits).toBe(128);
      check(io);
      expect(io.unmap(1, 0n, 32n * K4)).toEqual(bytes(32n * K4));
      expect(io.translate(0, null, 0n, 'read')).toEqual(fault('not-mapped'));
      expect(io.translate(0, null, 32n * K4, 'read')).toEqual(pa(32n * K4));
      check(io);
    }
  });

  it('domains sharing IOVAs never share IOTLB entries', () => {
    const io = fresh({ iotlbSize: 4 });
    for (let d = 1; d <= 4; d++) {
      setup(io, d, {}, d);
      expect(io.map(d, 0n, BigInt(d) * M2, M2, 3)).toEqual({ ok: true });
      expect(io.attachPasid(0, d, d)).toEqual({ ok: true });
    }
    for (let r = 0; r < 3; r++)
      for (let d = 1; d <= 4; d++) {
        expect(io.translate(d, null, 0x1000n, 'read')).toEqual(pa(BigInt(d) * M2 + 0x1000n));
        expect(io.translate(0, d, 0x2000n, 'read')).toEqual(pa(BigInt(d) * M2 + 0x2000n));
      }
    check(io);
  });

  it('checkInvariants finds corruption', () => {
    const io = fresh();
    setup(io, 1);
    expect(io.map(1, 0n, 0n, K4, 3)).toEqual({ ok: true });
    io.translate(0, null, 0n, 'read');
    check(io);
    const inner = io as unknown as { arena: { pte: Float64Array; top: number }; tlb: { slotPte: Float64Array } };
    inner.tlb.slotPte[0] = inner.tlb.slotPte[0]! + 16; // the cached PA moves by 4K
    expect(io.checkInvariants().join('\n')).toMatch(/stale/);
    inner.arena.pte[100] = 5; // the root points to itself
    expect(io.checkInvariants().length).toBeGreaterThan(1);
  });
});
