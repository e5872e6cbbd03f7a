// The directories the CLI writes (--out, --db), checked before the campaign starts, and created
// with a bounded walk: Node's recursive mkdir never returns under /proc (each mkdir there answers
// ENOENT and it retries for ever), so directories are made one component at a time.
import { closeSync, mkdirSync, openSync, rmdirSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

/** A directory the CLI cannot write: its message is one line naming the path and the cause. */
export class PathError extends Error {}

const reason = (e: unknown): string => {
  const err = e as NodeJS.ErrnoException;
  // Node's message repeats the syscall and path ("EPERM: operation not permitted, mkdir '/x'"): keep the words.
  return err.code ? `${err.code}: ${err.message.replace(/^[A-Z]+: /, '').replace(/, \w+ '.*'$/, '')}` : String(err.message ?? e);
};

/** What is at `path`: a directory, something else, or nothing. */
function kindOf(path: string): 'directory' | 'other' | 'absent' {
  try {
    return statSync(path).isDirectory() ? 'directory' : 'other';
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return 'absent';
    if (code === 'ENOTDIR') throw new PathError(`${path}: a component of the path is a file, not a directory`);
    throw new PathError(`${path}: ${reason(e)}`);
  }
}

/**
 * Creates `dir` and its missing parents, one mkdir each (at most one per path component, so it
 * always ends), and resolves to the directories it created, outermost first. Throws a PathError.
 */
export function makeDirectory(dir: string): string[] {
  const target = resolve(dir);
  const missing: string[] = [];
  for (let at = target; ; at = dirname(at)) {
    const kind = kindOf(at);
    if (kind === 'directory') break;
    if (kind === 'other') throw new PathError(`${at} exists and is not a directory`);
    missing.unshift(at);
    if (dirname(at) === at) break;
  }
  const created: string[] = [];
  for (const d of missing) {
    try {
      mkdirSync(d);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST' && kindOf(d) === 'directory') continue; // made meanwhile
      removeCreated(created);
      throw new PathError(`cannot create the directory ${d}: ${reason(e)}`);
    }
    created.push(d);
  }
  return created;
}

/** Removes directories `makeDirectory` created (innermost first), if they are still empty. */
function removeCreated(created: readonly string[]): void {
  for (const d of [...created].reverse())
    try {
      rmdirSync(d);
    } catch {
      return; // not empty any more, or gone: leave it
    }
}

/**
 * Checks that files named `files` can be written in `dir`, leaving nothing behind: the directory is
 * created (with its parents) and a probe file written and deleted in it, then what was created is
 * removed again; a file of those names that exists must be a regular file that opens for writing.
 * Throws a PathError.
 */
export function checkWritableDirectory(dir: string, files: readonly string[] = []): void {
  const created = makeDirectory(dir);
  try {
    const probe = join(resolve(dir), `.iommu-conformance-probe-${process.pid}-${Date.now()}`);
    try {
      writeFileSync(probe, '', { flag: 'wx' });
      unlinkSync(probe);
    } catch (e) {
      throw new PathError(`cannot write in ${resolve(dir)}: ${reason(e)}`);
    }
    for (const name of files) {
      const file = join(resolve(dir), name);
      const kind = kindOf(file);
      if (kind === 'absent') continue;
      if (kind === 'directory') throw new PathError(`${file} is a directory: it cannot be written as a file`);
      try {
        closeSync(openSync(file, 'r+')); // opens for writing without changing it
      } catch (e) {
        throw new PathError(`cannot write ${file}: ${reason(e)}`);
      }
    }
  } finally {
    removeCreated(created);
  }
}

/** Writes each file (name to text) in `dir`, creating it; resolves to their paths. Throws a PathError. */
export function writeFiles(dir: string, files: Readonly<Record<string, string>>): Record<string, string> {
  makeDirectory(dir);
  const written: Record<string, string> = {};
  for (const [name, text] of Object.entries(files)) {
    const file = join(resolve(dir), name);
    try {
      writeFileSync(file, text);
    } catch (e) {
      throw new PathError(`cannot write ${file}: ${reason(e)}`);
    }
    written[name] = file;
  }
  return written;
}
