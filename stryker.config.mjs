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
  // Added to each mutant's expected time (its covering tests' time x 1.5): a mutant that loops
  // forever costs this much, so it is kept short; STRYKER_TIMEOUT_MS overrides it on a slow machine.
  timeoutMS: Number(process.env.STRYKER_TIMEOUT_MS ?? 10_000),
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
