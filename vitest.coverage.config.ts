// Coverage of model/ and impl/ by the PROPERTY suites alone (the harness runs and the property
// tests of smaller parts), not by the hand-written directed tests: `npm run coverage`.
// The thresholds hold the properties to >= 95% of the branches of each folder.
import { defineConfig } from 'vitest/config';

// Property suites: every test a property over generated inputs, named *.props.test.ts in any
// test folder (the harness runs on the model and on FastIommu, the property tests of the judge,
// the self-check and the edges, and the two hand-modelled properties of impl/: the IOTLB against
// a Map, FastIommu against a naive page map). A new property suite joins by its name.
export const propertySuites = ['test/**/*.props.test.ts'];

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
