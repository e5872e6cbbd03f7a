// The vendor's three lines: describeConformance('my iommu', () => new MyIommu()).
import { describe, it } from 'vitest';
import { checkConformance, type CheckOptions } from './check.ts';
import type { Iommu } from '../model/types.ts';
import { formatReport } from './report/report.ts';

export function describeConformance(name: string, factory: () => Iommu | Promise<Iommu>, options: CheckOptions & { timeoutMs?: number } = {}): void {
  describe(name, () => {
    it('conforms to the IOMMU contract (isolation, coherency, every rule)', { timeout: options.timeoutMs ?? 120_000 }, async () => {
      const report = await checkConformance(factory, options);
      if (!report.ok) throw new Error(formatReport(report));
    });
  });
}
