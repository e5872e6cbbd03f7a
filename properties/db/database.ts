// The failure database, as Hypothesis keeps one: every counterexample found is saved, one JSON file
// per counterexample, named by a hash of its target and a hash of its calls
// (`<target 12 hex>-<calls 16 hex>.json`); the next run against the same target replays the saved
// ones first, reports the first that still fails and deletes those that pass now.
//
// Nothing here ever throws at the run: a corrupt entry (bad JSON, unknown format or version, an
// unknown op, a different target than its name says) is skipped with one line; a directory that
// cannot be read or written gives one line and the run goes on without it. Entries of other
// targets (another --impl, --exec, --iotlb) are neither replayed nor deleted. Writing is atomic (a
// temporary file renamed into place), so that two workers or runs saving at once cannot leave a
// half-written entry. The directory is created at the first save only: a run that finds nothing
// leaves nothing behind.
//
// An entry is also a counterexample.json that `iommu-conformance replay FILE` reads (when its
// target is a CLI target): same `target`, `property`, `message`, `steps` and `calls`.
import { createHash, randomBytes } from 'node:crypto';
import { accessSync, constants, readdirSync, readFileSync, statSync, unlinkSync } from 'node:fs';
import { mkdir, rename, unlink, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Call } from '../../model/ops.ts';
import { isOp } from '../../model/ops.ts';
import type { Capabilities, DomainOptions } from '../../model/types.ts';
import { fromTraceJson, toTraceJson } from '../adapters/protocol.ts';
import { shortPath } from './describe.ts';

export const DB_FORMAT = 'iommu-conformance-failure';
export const DB_VERSION = 1;
/** The default directory of the CLI and describeConformance (in the working directory). */
export const DEFAULT_DB_DIR = '.iommu-conformance';

/** How checkConformance uses a database (`CheckOptions.database`). */
export interface DatabaseOptions {
  /** The directory (created at the first save). */
  dir: string;
  /**
   * What is checked, as JSON data: entries are keyed by it, and only those of the same target are
   * replayed. Default `{ kind: 'checkConformance' }`: give one per implementation.
   */
  target?: unknown;
  /** Replay the saved counterexamples first (default true; the CLI's other workers: false). */
  replay?: boolean;
  /** Each line the database has to say (also in `report.database.messages`). */
  onMessage?: (line: string) => void;
}

/** What the database did in a run: `report.database`. */
export interface DatabaseSummary {
  readonly dir: string;
  /** Saved counterexamples of this target replayed before generation. */
  replayed: number;
  /** Of those, failing still (the first is reported: the run stops there). */
  stillFailing: number;
  /** Of those, passing now: deleted. */
  dropped: number;
  /** Entries of other targets: kept, not replayed. */
  foreign: number;
  /** Corrupt entries skipped. */
  skipped: number;
  /** The entry the counterexample came from (a path), when it was replayed from the database. */
  from?: string;
  /** Where the counterexample was saved (a path). */
  saved?: string;
  /** One line each: entries dropped, skipped, problems with the directory. */
  readonly messages: string[];
}

/** An entry on disk (after fromTraceJson). */
export interface EntryFile {
  format: typeof DB_FORMAT;
  version: number;
  target: unknown;
  capabilities?: Capabilities;
  domains?: Partial<DomainOptions>[];
  property: string;
  message: string;
  steps?: string[];
  calls: Call[];
  /** ISO 8601, when it was found. */
  foundAt: string;
  seed?: number;
  path?: string;
}

/** A valid entry of this target. */
export interface Entry extends EntryFile {
  /** Its file name in the directory. */
  readonly file: string;
}

/** The counterexample to save. */
export type NewEntry = Omit<EntryFile, 'format' | 'version' | 'target' | 'foundAt'>;

/**
 * The directory the CLI and describeConformance use when given none: IOMMU_CONFORMANCE_DB if set
 * (`off`, `0`, `false` or `none`: no database), else `.iommu-conformance/` in the working directory.
 */
export function defaultDatabaseDir(): string | false {
  const env = globalThis.process?.env.IOMMU_CONFORMANCE_DB;
  if (env === undefined || env.trim() === '') return DEFAULT_DB_DIR;
  return /^(off|0|false|none)$/i.test(env.trim()) ? false : env;
}

/** JSON with sorted keys (bigints and undefined tagged as in traces): the same data, the same text. */
export function canonicalJson(value: unknown): string {
  const sort = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(sort);
    if (typeof v === 'object' && v !== null)
      return Object.fromEntries(Object.keys(v).sort().map((k) => [k, sort((v as Record<string, unknown>)[k])]));
    return v;
  };
  return JSON.stringify(sort(toTraceJson(value)));
}

const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');
export const targetHash = (target: unknown): string => sha256(canonicalJson(target)).slice(0, 12);
export const callsHash = (calls: readonly Call[]): string => sha256(canonicalJson(calls)).slice(0, 16);
/** The file name of a counterexample: by target, then by calls. */
export const entryName = (target: unknown, calls: readonly Call[]): string => `${targetHash(target)}-${callsHash(calls)}.json`;

const ENTRY_NAME = /^([0-9a-f]{12})-([0-9a-f]{16})\.json$/;
const errorText = (e: unknown): string => (e instanceof Error ? e.message.split('\n')[0]! : String(e));

/** Why the parsed file is not a valid entry of `target`, or undefined. */
function problemOf(o: unknown, target: string): string | undefined {
  if (typeof o !== 'object' || o === null || Array.isArray(o)) return 'not a JSON object';
  const e = o as Partial<EntryFile>;
  if (e.format !== DB_FORMAT) return `not a failure database entry (format ${JSON.stringify(e.format)})`;
  if (e.version !== DB_VERSION) return `unknown version ${JSON.stringify(e.version)} (this harness reads version ${DB_VERSION})`;
  if (canonicalJson(e.target) !== target) return 'recorded for a different target than its name says';
  if (!Array.isArray(e.calls) || e.calls.length === 0) return 'no calls';
  for (const c of e.calls as unknown[]) {
    const op = typeof c === 'object' && c !== null ? (c as { op?: unknown }).op : undefined;
    if (!isOp(op)) return `unknown op ${JSON.stringify(op)}`;
  }
  if (typeof e.property !== 'string' || typeof e.message !== 'string') return 'no property or message';
  return undefined;
}

export class FailureDatabase {
  readonly dir: string;
  readonly target: unknown;
  readonly summary: DatabaseSummary;
  private readonly key: string;
  private readonly canonicalTarget: string;
  private readonly onMessage?: (line: string) => void;
  /** False after a problem with the directory: the run goes on without it. */
  private usable = true;

  private constructor(options: DatabaseOptions) {
    this.dir = resolve(options.dir);
    this.target = options.target ?? { kind: 'checkConformance' };
    this.canonicalTarget = canonicalJson(this.target);
    this.key = targetHash(this.target);
    this.onMessage = options.onMessage;
    this.summary = { dir: this.dir, replayed: 0, stillFailing: 0, dropped: 0, foreign: 0, skipped: 0, messages: [] };
  }

  /**
   * The database in `options.dir`. A directory that exists but cannot be read or written gives one
   * line and a database that does nothing; one that does not exist yet is created at the first save.
   */
  static open(options: DatabaseOptions): FailureDatabase {
    const db = new FailureDatabase(options);
    try {
      if (!statSync(db.dir).isDirectory()) db.unusable(new Error('not a directory'));
      else accessSync(db.dir, constants.R_OK | constants.W_OK | constants.X_OK);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') db.unusable(e);
    }
    return db;
  }

  get isUsable(): boolean {
    return this.usable;
  }

  /** A line for the user (printed by the caller), kept in the summary. */
  say(line: string): void {
    this.summary.messages.push(line);
    this.onMessage?.(line);
  }

  private unusable(e: unknown): void {
    if (!this.usable) return;
    this.usable = false;
    this.say(`database ${shortPath(this.dir)} cannot be used (${errorText(e)}): running without it`);
  }

  /** The path of an entry. */
  pathOf(file: string): string {
    return join(this.dir, file);
  }

  /**
   * The valid entries of this target, shortest first (then oldest); corrupt ones are skipped with
   * a line each, those of other targets counted (kept).
   */
  entries(): Entry[] {
    if (!this.usable) return [];
    let names: string[];
    try {
      names = readdirSync(this.dir).sort();
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') this.unusable(e);
      return [];
    }
    const out: Entry[] = [];
    for (const name of names) {
      if (name.startsWith('.') || !name.endsWith('.json')) continue; // temporary files, notes
      const m = ENTRY_NAME.exec(name);
      if (!m) {
        this.skip(name, 'not an entry name (<target>-<calls>.json)');
        continue;
      }
      if (m[1] !== this.key) {
        this.summary.foreign++;
        continue;
      }
      let parsed: unknown;
      try {
        parsed = fromTraceJson(JSON.parse(readFileSync(this.pathOf(name), 'utf8')));
      } catch (e) {
        // Gone since the listing (another run dropped it): nothing to say.
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue;
        this.skip(name, e instanceof SyntaxError ? `bad JSON (${errorText(e)})` : errorText(e));
        continue;
      }
      const problem = problemOf(parsed, this.canonicalTarget);
      if (problem) this.skip(name, problem);
      else out.push({ ...(parsed as EntryFile), file: name });
    }
    return out.sort((a, b) => a.calls.length - b.calls.length || String(a.foundAt).localeCompare(String(b.foundAt)));
  }

  private skip(name: string, why: string): void {
    this.summary.skipped++;
    this.say(`database: skipped ${shortPath(this.pathOf(name))}: ${why}`);
  }

  /** Deletes an entry (it passes now); false if it could not be deleted. */
  drop(file: string): boolean {
    try {
      unlinkSync(this.pathOf(file));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return true; // another run dropped it
      this.unusable(e);
      return false;
    }
    return true;
  }

  /**
   * Saves a counterexample atomically (a temporary file renamed onto its name: saving the same
   * one twice at once leaves one whole entry). Resolves to its file name, or undefined if the
   * directory cannot be written (said once).
   */
  async save(entry: NewEntry): Promise<string | undefined> {
    if (!this.usable) return undefined;
    const file = entryName(this.target, entry.calls);
    const content = Object.fromEntries(
      Object.entries({ format: DB_FORMAT, version: DB_VERSION, target: this.target, foundAt: new Date().toISOString(), ...entry }).filter(([, v]) => v !== undefined),
    );
    const text = JSON.stringify(toTraceJson(content), null, 2) + '\n';
    const temporary = this.pathOf(`.${file}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
    try {
      await mkdir(this.dir, { recursive: true });
      await writeFile(temporary, text);
      await rename(temporary, this.pathOf(file));
    } catch (e) {
      await unlink(temporary).catch(() => {});
      this.unusable(e);
      return undefined;
    }
    return file;
  }
}
