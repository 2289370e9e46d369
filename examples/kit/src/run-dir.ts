import { existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { UsageError } from './cli.js';
import { readJson, writeFileAtomically } from './files.js';

export interface RunDirOptions<C> {
  /** `--out DIR`: where a new run goes (default `runs/<name>-<time>` under the working directory). */
  out?: string;
  /** `--resume DIR`: continue the run in DIR with the settings saved there. */
  resume?: string;
  /** Prefix of the default folder name, e.g. 'colored-mnist'. */
  name: string;
  /** The settings of a new run (not called on resume). */
  config: () => C;
}

export interface RunDir<C> {
  dir: string;
  config: C;
  resumed: boolean;
}

/** The settings of a run, saved in its folder so that `--resume DIR` continues it identically. */
export const CONFIG_FILE = 'config.json';

/**
 * One meaning of `--resume` for every example: `--resume DIR` continues the run in DIR with the
 * settings it was started with (saved as config.json); a new run refuses a folder that already
 * holds one.
 */
export function openRunDir<C>(options: RunDirOptions<C>): RunDir<C> {
  if (options.resume !== undefined) {
    const dir = resolve(options.resume);
    const file = join(dir, CONFIG_FILE);
    if (!existsSync(file)) throw new UsageError(`--resume ${options.resume}: no ${CONFIG_FILE} there; point it at the output folder of an earlier run`);
    return { dir, config: readJson<C>(file), resumed: true };
  }
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const dir = resolve(options.out ?? join('runs', `${options.name}-${stamp}`));
  const file = join(dir, CONFIG_FILE);
  if (existsSync(file)) throw new UsageError(`${dir} already holds a run; use --resume ${dir} to continue it, or choose another --out`);
  const config = options.config();
  mkdirSync(dir, { recursive: true });
  writeFileAtomically(file, `${JSON.stringify(config, null, 2)}\n`);
  return { dir, config, resumed: false };
}
