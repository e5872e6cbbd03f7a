// The vendor's three lines: describeConformance('my iommu', () => new MyIommu()).
import { relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkConformance, type CheckOptions } from './check.ts';
import type { Iommu } from '../model/types.ts';
import { formatReport } from './report/report.ts';
import { defaultDatabaseDir } from './db/database.ts';

/**
 * A vitest test checking the implementation. Its counterexamples go to the failure database
 * (`database`: default `.iommu-conformance/` in the working directory, or IOMMU_CONFORMANCE_DB;
 * false for none), keyed by the test's name and file, and are replayed first on the next run.
 */
export function describeConformance(name: string, factory: () => Iommu | Promise<Iommu>, options: CheckOptions & { timeoutMs?: number } = {}): void {
  describe(name, () => {
    it('conforms to the IOMMU contract (isolation, coherency, every rule)', { timeout: options.timeoutMs ?? 120_000 }, async () => {
      const dir = options.database ?? defaultDatabaseDir();
      const testPath = expect.getState().testPath;
      const target = { kind: 'describeConformance', name, file: testPath === undefined ? undefined : relative(process.cwd(), testPath).split('\\').join('/') };
      const database = typeof dir === 'string' ? { dir, target, onMessage: (line: string) => console.warn(`iommu-conformance: ${line}`) } : dir;
      const report = await checkConformance(factory, { ...options, database });
      if (!report.ok) throw new Error(formatReport(report));
    });
  });
}
