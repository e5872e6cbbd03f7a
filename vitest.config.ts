import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    pool: 'threads',
    // The JSON report lets CI print a plain closing line ("N passed, N failed").
    reporters: ['default', ['json', { outputFile: 'reports/vitest.json' }]],
  },
});
