// StrykerJS mutation testing of the reference model and the optimized implementation against
// the PROPERTY suites alone (vitest.mutation.config.ts): `npm run mutation`.
// Reports: reports/mutation/index.html and reports/mutation/mutation.json (git-ignored).
/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: 'vitest',
  vitest: { configFile: 'vitest.mutation.config.ts', related: false },
  mutate: process.env.STRYKER_MUTATE ? process.env.STRYKER_MUTATE.split(',') : ['impl/**/*.ts', 'model/**/*.ts', '!**/index.ts'],
  coverageAnalysis: 'perTest',
  // Static mutants (module-level constants) need every test for every mutant: skippable for a quick run.
  ignoreStatic: process.env.STRYKER_IGNORE_STATIC === '1',
  concurrency: 2,
  // A mutant times out after its covering tests' dry-run time x timeoutFactor + timeoutMS. A
  // mutant that loops forever costs that much, so both are kept small, but not too small: the
  // first run of a restarted test runner also pays vitest's start-up, and with x1 + 3 s even
  // mutants of dead code timed out. STRYKER_TIMEOUT_FACTOR / STRYKER_TIMEOUT_MS raise them on a
  // slow machine.
  timeoutFactor: Number(process.env.STRYKER_TIMEOUT_FACTOR ?? 1.25),
  timeoutMS: Number(process.env.STRYKER_TIMEOUT_MS ?? 8_000),
  reporters: ['html', 'json', 'clear-text', 'progress'],
  htmlReporter: { fileName: 'reports/mutation/index.html' },
  jsonReporter: { fileName: 'reports/mutation/mutation.json' },
  // Re-runs only test mutants whose code or tests changed since the last run.
  incremental: process.env.STRYKER_INCREMENTAL !== '0',
  incrementalFile: 'reports/stryker-incremental.json',
  thresholds: { high: 90, low: 85, break: null },
  tempDirName: '.stryker-tmp',
  cleanTempDir: 'always',
};
