// Coverage of model/ and impl/ by the PROPERTY suites alone (the harness runs and the property
// tests of smaller parts), not by the hand-written directed tests: `npm run coverage`.
// The thresholds hold the properties to >= 95% of the branches of each folder.
import { defineConfig } from 'vitest/config';

// Property suites: every test a property over generated inputs (the harness runs, the props-*
// suites, and the two hand-modelled properties of impl/: the IOTLB against a Map, FastIommu
// against a naive page map).
export const propertySuites = [
  'test/harness-reference.test.ts',
  'test/impl-conformance.test.ts',
  'test/impl-iotlb.test.ts',
  'test/impl-differential.test.ts',
  'test/props-*.test.ts',
];

export default defineConfig({
  test: {
    include: propertySuites,
    testTimeout: 120_000,
    pool: 'threads',
    coverage: {
      provider: 'v8',
      include: ['model/**/*.ts', 'impl/**/*.ts'],
      reporter: ['html', 'lcov', 'json-summary', 'text'],
      reportsDirectory: 'coverage',
      thresholds: {
        'model/**/*.ts': { branches: 95 },
        'impl/**/*.ts': { branches: 95 },
      },
    },
  },
});
