import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    pool: 'threads',
    // No failure database for the suite (the CLI and describeConformance default to
    // .iommu-conformance/ in the working directory): the tests that use one give a temporary DIR.
    env: { IOMMU_CONFORMANCE_DB: 'off' },
    // The JSON report lets CI print a plain closing line ("N passed, N failed").
    reporters: ['default', ['json', { outputFile: 'reports/vitest.json' }]],
  },
});
