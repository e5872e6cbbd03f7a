// Mutation runs only (vitest.mutation.config.ts): pins fast-check's seed (and skips shrinking), so that every
// fc.assert / fc.check without its own seed generates the same inputs on every run. Stryker's
// per-test coverage matches tests by name and @fast-check/vitest puts the seed in test names;
// an unpinned seed also makes a mutant's fate depend on the luck of the draw.
import fc from 'fast-check';

const seed = Number(process.env.FC_SEED ?? 0x10_44_0a);
// A mutant is killed by the first failure: no time goes into shrinking it (fast-check's
// endOnFailure, and checkConformance's own budget).
fc.configureGlobal({ ...fc.readConfigureGlobal(), seed, endOnFailure: true });
process.env.IOMMU_CONFORMANCE_SHRINK_TIME_MS ??= '1';
