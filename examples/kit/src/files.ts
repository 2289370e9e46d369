import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** Writes one file atomically (temporary file + rename): a crash leaves the old file or the new one. */
export function writeFileAtomically(file: string, content: string | Uint8Array): void {
  mkdirSync(dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}`;
  try {
    writeFileSync(tmp, content);
    renameSync(tmp, file);
  } catch (error) {
    rmSync(tmp, { force: true });
    throw new Error(`cannot write ${file}: ${(error as Error).message}`);
  }
}

/**
 * Replaces a directory of files atomically: everything goes to a sibling temporary folder that
 * then takes the old one's place by rename, so a crash at any moment leaves a complete folder
 * (the old or the new one). A leftover `.old-*` from a crash between the two renames is the
 * previous complete folder and is put back by `recoverDirectory`.
 */
export function writeDirectoryAtomically(dir: string, files: Record<string, string | Uint8Array>): void {
  mkdirSync(dirname(dir), { recursive: true });
  const tmp = `${dir}.tmp-${process.pid}`;
  const old = `${dir}.old-${process.pid}`;
  try {
    rmSync(tmp, { recursive: true, force: true });
    mkdirSync(tmp);
    for (const [name, content] of Object.entries(files)) writeFileSync(join(tmp, name), content);
    if (existsSync(dir)) renameSync(dir, old);
    renameSync(tmp, dir);
    rmSync(old, { recursive: true, force: true });
  } catch (error) {
    rmSync(tmp, { recursive: true, force: true });
    if (!existsSync(dir) && existsSync(old)) renameSync(old, dir);
    throw new Error(`cannot write ${dir}: ${(error as Error).message}; the previous checkpoint is kept`);
  }
}

/** After a crash between the two renames of writeDirectoryAtomically, the previous folder is `<dir>.old-<pid>`: put it back. */
export function recoverDirectory(dir: string): void {
  if (existsSync(dir)) return;
  const parent = dirname(dir);
  if (!existsSync(parent)) return;
  const base = dir.slice(parent.length + 1);
  const old = readdirSync(parent).find((name) => name.startsWith(`${base}.old-`));
  if (old) renameSync(join(parent, old), dir);
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
