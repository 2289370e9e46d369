import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

/** What to do about a failed write, from its error code (disk full, folder not writable). */
function writeAdvice(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ENOSPC' || code === 'EDQUOT') return ' (the disk is full: free some space, then resume the run)';
  if (code === 'EROFS' || code === 'EACCES' || code === 'EPERM') return ' (the folder is not writable: fix its permissions, or choose another output folder)';
  return '';
}

/** Writes one file atomically (temporary file + rename): a crash leaves the old file or the new one. */
export function writeFileAtomically(file: string, content: string | Uint8Array): void {
  mkdirSync(dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}`;
  try {
    writeFileSync(tmp, content);
    renameSync(tmp, file);
  } catch (error) {
    rmSync(tmp, { force: true });
    throw new Error(`cannot write ${file}: ${(error as Error).message}${writeAdvice(error)}`, { cause: error });
  }
}

/**
 * Replaces a directory of files atomically: everything goes to a sibling temporary folder that
 * then takes the old one's place by rename, so a crash at any moment leaves a complete folder
 * (the old or the new one). A leftover `.old-*` from a crash between the two renames is the
 * previous complete folder and is put back by `recoverDirectory`. Leftovers of killed writers
 * are removed first, so at most one `.old-*` exists at any moment and it is always complete.
 * On failure (disk full, folder not writable) the previous folder stays in place.
 */
export function writeDirectoryAtomically(dir: string, files: Record<string, string | Uint8Array>): void {
  const tmp = `${dir}.tmp-${process.pid}`;
  const old = `${dir}.old-${process.pid}`;
  try {
    mkdirSync(dirname(dir), { recursive: true });
    settleDirectory(dir);
    mkdirSync(tmp);
    for (const [name, content] of Object.entries(files)) writeFileSync(join(tmp, name), content);
    if (existsSync(dir)) renameSync(dir, old);
    renameSync(tmp, dir);
    rmSync(old, { recursive: true, force: true });
  } catch (error) {
    rmSync(tmp, { recursive: true, force: true });
    if (!existsSync(dir) && existsSync(old)) renameSync(old, dir);
    const kept = existsSync(dir) ? `; the previous ${basename(dir)} folder is kept` : '';
    throw new Error(`cannot write ${dir}: ${(error as Error).message}${writeAdvice(error)}${kept}`, { cause: error });
  }
}

/** Siblings `<dir>.tmp-<pid>` (an interrupted write) and `<dir>.old-<pid>` (an interrupted clean-up, or the one to recover). */
function siblings(dir: string, kind: 'tmp' | 'old'): string[] {
  const parent = dirname(dir);
  if (!existsSync(parent)) return [];
  const prefix = `${basename(dir)}.${kind}-`;
  return readdirSync(parent)
    .filter((name) => name.startsWith(prefix) && /^\d+$/.test(name.slice(prefix.length)))
    .map((name) => join(parent, name));
}

/** Folders left by writers that were killed; call only once `dir` itself is complete. */
function removeLeftovers(dir: string): void {
  for (const path of [...siblings(dir, 'tmp'), ...siblings(dir, 'old')]) rmSync(path, { recursive: true, force: true });
}

/**
 * For the one process that owns `dir` (a run being resumed, a writer about to write): puts back
 * the previous folder if a writer was killed between its two renames, then removes what killed
 * writers left beside it. A run whose last checkpoint write was killed while deleting the
 * previous folder writes no further checkpoint, so without this its half-deleted copy would stay.
 * Not for readers of a live run: it would remove the running writer's temporary folder.
 */
export function settleDirectory(dir: string): void {
  recoverDirectory(dir);
  removeLeftovers(dir);
}

/**
 * After a crash between the two renames of writeDirectoryAtomically, the previous folder is
 * `<dir>.old-<pid>` (the only one: writers clear older leftovers first): put it back.
 */
export function recoverDirectory(dir: string): void {
  if (existsSync(dir)) return;
  const [old] = siblings(dir, 'old');
  if (old) renameSync(old, dir);
}

export function readJson<T>(file: string): T {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new Error(`cannot read ${file}: ${(error as Error).message}`);
  }
  try {
    return JSON.parse(text) as T;
  } catch (error) {
    throw new Error(`${file} is not valid JSON (${(error as Error).message}); it may be truncated or edited`);
  }
}
