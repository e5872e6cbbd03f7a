// The failure database in a report, as text (no node:fs here: formatReport uses it).
import type { DatabaseSummary } from './database.ts';

/** A path below the working directory relative to it, any other as it is. */
export function shortPath(path: string): string {
  const cwd = globalThis.process?.cwd?.();
  return cwd !== undefined && path.startsWith(cwd + '/') ? path.slice(cwd.length + 1) : path;
}

/** One line: `DIR: replayed 2, still failing 1, dropped 1; saved FILE`. */
export function describeDatabase(db: DatabaseSummary): string {
  const parts = [`replayed ${db.replayed}`, `still failing ${db.stillFailing}`, `dropped ${db.dropped}`];
  if (db.foreign > 0) parts.push(`${db.foreign} of other targets kept`);
  if (db.skipped > 0) parts.push(`${db.skipped} corrupt skipped`);
  const saved = db.saved === undefined ? '' : `; saved ${shortPath(db.saved)}`;
  return `${shortPath(db.dir)}/: ${parts.join(', ')}${saved}`;
}

/** The line saying where a counterexample replayed from the database came from, if it did. */
export function fromDatabaseLine(db: DatabaseSummary | undefined): string | undefined {
  if (db?.from === undefined) return undefined;
  return `From the failure database: ${shortPath(db.from)} (a saved counterexample, replayed before generating; it still fails).`;
}
