// FastIommu through the harness with the IOTLB off, thrashing (8 entries) and keeping every entry
// until invalidated, over every domain kind; checkInvariants() runs after every step.
import { describe, expect, it } from 'vitest';
import { FastIommu } from '../../impl/index.ts';
import { checkConformance } from '../../properties/index.ts';

describe('FastIommu conforms with any IOTLB size', () => {
  for (const iotlbSize of [0, 8, Number.POSITIVE_INFINITY]) {
    it(`iotlbSize ${iotlbSize}`, async () => {
      const report = await checkConformance(() => new FastIommu({ iotlbSize }), { seed: 77 });
      expect(report.counterexample?.message).toBeUndefined();
      expect(report.ok).toBe(true);
      expect(report.statistics.runs).toBe(200);
      // A cache that keeps entries shows stale-but-allowed answers inside deferred windows.
      if (iotlbSize > 0) expect(report.statistics['stale-allowed']).toBeGreaterThan(0);
      else expect(report.statistics['stale-allowed'] ?? 0).toBe(0);
    });
  }
});
