// The test run StrykerJS uses for every mutant (`npm run mutation`): the property suites alone,
// as in vitest.coverage.config.ts, with fast-check's seed pinned (test/setup/pin-seed.ts) and
// the quickest test files first (test/setup/cheap-first-sequencer.ts).
import { defineConfig } from 'vitest/config';
import { propertySuites } from './vitest.coverage.config.ts';
import { CheapFirstSequencer } from './test/setup/cheap-first-sequencer.ts';

export default defineConfig({
  test: {
    include: propertySuites,
    setupFiles: ['test/setup/pin-seed.ts'],
    testTimeout: 120_000,
    pool: 'threads',
    sequence: { sequencer: CheapFirstSequencer },
  },
});
