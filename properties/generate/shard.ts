// A deterministic share of a campaign. fast-check generates run r (0-based) of a campaign from the
// campaign's seed and r alone: the seed's generator jumped r + 1 times, with r's bias. So a shard
// can walk the same run order and generate, execute and count only the runs it owns: shard K of
// N owns run r when r mod N = K - 1. N shards of the same campaign then execute, between them,
// exactly the runs of the campaign, each with the same calls, and a failing run's fast-check path
// ("r:...") is the campaign's own: `--seed S --path P` replays it without the shard.
import fc from 'fast-check';

export interface Shard {
  /** 1 <= index <= count. */
  readonly index: number;
  readonly count: number;
}

/** The whole campaign. */
export const WHOLE: Shard = { index: 1, count: 1 };

/** The problem with a shard, if any. */
export function shardProblem(shard: Shard): string | undefined {
  const { index, count } = shard;
  if (!Number.isSafeInteger(count) || count < 1) return `the shard count must be a positive integer, not ${count}`;
  if (!Number.isSafeInteger(index) || index < 1 || index > count) return `the shard index must be an integer from 1 to ${count}, not ${index}`;
  return undefined;
}

export const ownsRun = (shard: Shard, run: number): boolean => run % shard.count === shard.index - 1;

/** How many of the runs 0..numRuns-1 the shard owns. */
export const runsOwned = (shard: Shard, numRuns: number): number =>
  Math.max(0, Math.ceil((numRuns - (shard.index - 1)) / shard.count));

/**
 * Worker `worker` (0-based) of `workers` splitting `shard` further: it owns the shard's runs
 * r with floor(r / count) mod workers = worker, i.e. r mod (count * workers) = index - 1 + worker * count.
 */
export const workerShard = (shard: Shard, worker: number, workers: number): Shard => ({
  index: shard.index + worker * shard.count,
  count: shard.count * workers,
});

/** What a run the shard does not own generates instead of its value: nothing to run. */
export const SKIPPED: unique symbol = Symbol('run of another shard');

/**
 * `arbitrary` for the runs the shard owns, SKIPPED for the others (generated at no cost). It
 * counts the runs by its generate calls, which fast-check makes once per run, in run order: it
 * must serve one fc.check, started from its first run (no `path`).
 */
export function shardArbitrary<T>(arbitrary: fc.Arbitrary<T>, shard: Shard): fc.Arbitrary<T | typeof SKIPPED> {
  return new (class extends fc.Arbitrary<T | typeof SKIPPED> {
    private run = 0;
    generate(mrng: fc.Random, biasFactor: number | undefined): fc.Value<T | typeof SKIPPED> {
      return ownsRun(shard, this.run++) ? arbitrary.generate(mrng, biasFactor) : new fc.Value(SKIPPED, undefined);
    }
    canShrinkWithoutContext(value: unknown): value is T | typeof SKIPPED {
      return value !== SKIPPED && arbitrary.canShrinkWithoutContext(value);
    }
    shrink(value: T | typeof SKIPPED, context: unknown): fc.Stream<fc.Value<T | typeof SKIPPED>> {
      return value === SKIPPED ? fc.Stream.nil() : arbitrary.shrink(value, context);
    }
  })();
}
