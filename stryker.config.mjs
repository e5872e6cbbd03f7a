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
  // A mutant times out after its covering tests' dry-run time x timeoutFactor + timeoutMS. The
  // dry run measures with per-test coverage on, which makes it slower than a mutant's run, so a
  // factor of 1 still leaves room; a mutant that loops forever (most timeouts) costs that much
  // time, so both are kept small. STRYKER_TIMEOUT_FACTOR / STRYKER_TIMEOUT_MS raise them on a
  // slow or busy machine.
  timeoutFactor: Number(process.env.STRYKER_TIMEOUT_FACTOR ?? 1),
  timeoutMS: Number(process.env.STRYKER_TIMEOUT_MS ?? 3_000),
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
