// Replay first: before generating anything, the saved counterexamples of this target run again on
// a fresh implementation each. The first that still fails is the run's failure; those that pass
// now are deleted (said in one line).
import type { Iommu } from '../../model/types.ts';
import { replayCalls } from '../run/replay.ts';
import type { RunSettings } from '../run/run.ts';
import type { Failing } from '../shrink/shrink.ts';
import type { Statistics } from '../verdict/statistics.ts';
import type { Entry, FailureDatabase } from './database.ts';
import { shortPath } from './describe.ts';

/** The statistics of the database: replayed, still failing, dropped. */
export function countDatabase(statistics: Statistics, db: FailureDatabase): void {
  statistics['db:replayed'] = db.summary.replayed;
  statistics['db:still-failing'] = db.summary.stillFailing;
  statistics['db:dropped'] = db.summary.dropped;
}

/** Replays the saved entries of this target, shortest first, up to the first that still fails. */
export async function replaySaved(
  db: FailureDatabase,
  factory: () => Iommu | Promise<Iommu>,
  settings: RunSettings,
): Promise<{ entry: Entry; failing: Failing } | undefined> {
  const dropped: string[] = [];
  const sayDropped = () => {
    if (dropped.length > 0)
      db.say(`database: ${dropped.length} saved counterexample${dropped.length === 1 ? '' : 's'} pass${dropped.length === 1 ? 'es' : ''} now, dropped: ${dropped.join(', ')}`);
  };
  try {
    for (const entry of db.entries()) {
      db.summary.replayed++;
      const replay = await replayCalls(factory, settings, entry.calls);
      if (replay.failure) {
        db.summary.stillFailing++;
        return { entry, failing: { trace: replay.trace, failure: replay.failure } };
      }
      if (replay.error !== undefined) {
        // The harness or the factory failed, not the implementation: keep the entry.
        const cause = replay.error instanceof Error ? replay.error.message.split('\n')[0] : String(replay.error);
        db.say(`database: could not replay ${shortPath(db.pathOf(entry.file))} (${cause}): kept`);
        continue;
      }
      if (db.drop(entry.file)) {
        db.summary.dropped++;
        dropped.push(shortPath(db.pathOf(entry.file)));
      }
    }
    return undefined;
  } finally {
    sayDropped();
  }
}
