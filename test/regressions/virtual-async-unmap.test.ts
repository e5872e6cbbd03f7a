// Regression: VirtualIommu with the bug 'async-unmap-notify' (test/fixtures/buggy3/, the third,
// asynchronous catalogue), found by checkConformance(() => new VirtualIommu('async-unmap-notify'),
// { seed: 1 }) (path '4:1:1:2:1:1:1:1:1:1:1:1:1:1:1:1:1:1:1:2:2:5:0:2:4:5:4:4:4:4:4:4:4:4:4:4:4:4:4:4:4:10:10:11:11:11:11:11:11:11:14:14:14:14'),
// shrunk to 6 calls. A strict unmap answers before its shadow-IOTLB invalidation has run (it is
// posted to the event loop), so the translate right after it still hits the old entry.
// COHERENCY violated: (device 0, RID) got a stale translation: domain 1's mapping iova 0x0 -> pa 0x400000000 (size 0x1000, prot 3) was unmapped, and its domain is strict or was flushed since.
//   call:     iommu.translate(0, null, 0x0n, 'read')
//   answered: pa 0x400000000
//   allowed:  fault not-mapped
import { describe, expect, it } from 'vitest';
import type { Iommu } from '../../model/types.ts';
import { VirtualIommu } from '../fixtures/buggy3/viommu.ts';

/** The counterexample as iommu-conformance wrote it; throws at the first answer out of contract. */
async function replay(iommu: Iommu): Promise<void> {
  expect(await iommu.createDomain(1)).toEqual({ ok: true });
  expect(await iommu.attachDevice(0, 1)).toEqual({ ok: true });
  expect(await iommu.map(1, 0x0n, 0x400000000n, 0x1000n, 3)).toEqual({ ok: true });
  expect(await iommu.translate(0, null, 0x0n, 'read')).toEqual({ ok: true, pa: 0x400000000n });
  expect(await iommu.unmap(1, 0x0n, 0x1000n)).toEqual({ ok: true, value: 0x1000n });
  expect([{ ok: false, fault: 'not-mapped' }]).toContainEqual(await iommu.translate(0, null, 0x0n, 'read'));
}

describe('regression: a strict unmap is invalidated before it answers', () => {
  it("fails on VirtualIommu('async-unmap-notify'), at the last translate", async () => {
    await expect(replay(new VirtualIommu('async-unmap-notify'))).rejects.toThrow(/deep equally contain/);
  });
  it('passes on the correct VirtualIommu', async () => {
    await replay(new VirtualIommu());
  });
});
