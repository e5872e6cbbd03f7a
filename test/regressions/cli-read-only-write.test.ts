// Regression: the counterexample.test.ts that `node bin/iommu-conformance.mjs check --impl
// test/fixtures/cli-buggy-iommu.ts --seed 1 --out DIR` writes (path
// '0:1:1:1:2:1:1:1:1:1:1:1:1:1:1:1:1:1:2:3:3:4:3:4:3:4:6:7:7', shrunk to 4 calls), its import
// pointed at the fixture. The fixture stores read-only mappings read-write (a FastIommu
// subclass), so a write through a PASID to a read-only page goes through.
// PERMISSION violated: (device 0, PASID 1) got domain 1's mapping iova 0x0 -> pa 0x400000000 (size 0x1000, prot 1) for a write it does not allow.
//   call:     iommu.translate(0, 1, 0x0n, 'write')
//   answered: pa 0x400000000
//   allowed:  fault permission
import { describe, expect, it } from 'vitest';
import { FastIommu } from '../../impl/index.ts';
import type { Iommu } from '../../model/types.ts';
import Implementation from '../fixtures/cli-buggy-iommu.ts';

/** The counterexample as iommu-conformance wrote it; throws at the first answer out of contract. */
async function replay(iommu: Iommu): Promise<void> {
  expect(await iommu.createDomain(1)).toEqual({ ok: true });
  expect(await iommu.attachPasid(0, 1, 1)).toEqual({ ok: true });
  expect(await iommu.map(1, 0x0n, 0x400000000n, 0x1000n, 1)).toEqual({ ok: true });
  expect([{ ok: false, fault: 'permission' }]).toContainEqual(await iommu.translate(0, 1, 0x0n, 'write'));
}

describe('regression: a write through a read-only mapping faults', () => {
  it('fails on the CLI fixture that stores read-only mappings read-write', async () => {
    await expect(replay(new Implementation())).rejects.toThrow(/deep equally contain/);
  });
  it('passes on FastIommu, the class the fixture extends without the bug', async () => {
    await replay(new FastIommu());
  });
});
