// Mutation runs only (vitest.mutation.config.ts): pins fast-check's seed, so that every
// fc.assert / fc.check without its own seed generates the same inputs on every run. Stryker's
// per-test coverage matches tests by name and @fast-check/vitest puts the seed in test names;
// an unpinned seed also makes a mutant's fate depend on the luck of the draw.
import fc from 'fast-check';

const seed = Number(process.env.FC_SEED ?? 0x10_44_0a);
fc.configureGlobal({ ...fc.readConfigureGlobal(), seed });
