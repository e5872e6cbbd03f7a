// FastIommu through the harness (checkConformance, judged by the reference model), with a few
// IOTLB sizes and declared capabilities. The harness also calls checkInvariants() after every step.
import { describe, expect, it } from 'vitest';
import { FastIommu } from '../../impl/index.ts';
import { checkConformance } from '../../properties/index.ts';

const configs: [string, () => FastIommu][] = [
  ['default IOTLB', () => new FastIommu()],
  ['IOTLB of 3 entries', () => new FastIommu({ iotlbSize: 3 })],
  [
    'declared capabilities',
    () =>
      new FastIommu({
        iotlbSize: 16,
        capabilities: { deviceIdBits: 24, pasidBits: 8, maxDomains: 3, levels: [3, 5], pageSizes: [0x1000n, 0x20_0000n], canonicalAddresses: true },
      }),
  ],
];

describe('FastIommu: conformance through the harness', () => {
  for (const [name, factory] of configs) {
    it(name, async () => {
      const report = await checkConformance(factory, { numRuns: 50, seed: 2024 });
      expect(report.error).toBeUndefined();
      expect(report.counterexample?.steps.join('\n')).toBeUndefined();
      expect(report.ok).toBe(true);
    });
  }
});
