import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { asJson, type Json } from './run-id.js';
import type { RunContext, SweepRunner } from './runner.js';

/**
 * Written into a run's folder when the run has finished, with its result. A run whose folder
 * holds one is not run again: after Redis lost its data (or on another queue, or locally) the
 * same config is answered from the shared directory.
 */
export const RESULT_FILE = 'sweep-result.json';

interface StoredResult {
  id: string;
  config: Json;
  result: Json;
}

function writeAtomically(file: string, text: string): void {
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, text);
  renameSync(tmp, file);
}

/** The finished result stored in `dir` for this config, if any. */
export function storedResult(dir: string, id: string): Json | undefined {
  const file = join(dir, RESULT_FILE);
  if (!existsSync(file)) return undefined;
  let stored: StoredResult;
  try {
    stored = JSON.parse(readFileSync(file, 'utf8')) as StoredResult;
  } catch (error) {
    throw new Error(`${file} is damaged (${(error as Error).message}); delete it to run ${id} again`);
  }
  if (stored.id !== id) throw new Error(`${file} holds the result of run ${stored.id}, not ${id}: two configs share this folder; the runner's folder() must differ between configs`);
  return stored.result;
}

export interface ExecuteOptions extends Omit<RunContext, 'dir'> {
  id: string;
  folder: string;
}

/**
 * Runs one config in its folder under the runs directory, or returns the result already stored
 * there. The result is stored as JSON before it is returned.
 */
export async function executeRun(runner: SweepRunner, rawConfig: unknown, o: ExecuteOptions): Promise<{ result: Json; reused: boolean }> {
  const dir = join(o.runsDir, o.folder);
  const done = storedResult(dir, o.id);
  if (done !== undefined) return { result: done, reused: true };
  const config = runner.validate(rawConfig);
  mkdirSync(dir, { recursive: true });
  const { folder: _folder, id: _id, ...context } = o;
  const value = await runner.run(config, { ...context, dir });
  // Exactly what JSON.stringify makes of it (as a local results.json would hold it): that is what
  // Redis carries to the collector.
  const result = JSON.parse(JSON.stringify(value ?? null)) as Json;
  try {
    writeAtomically(join(dir, RESULT_FILE), JSON.stringify({ id: o.id, config: asJson(rawConfig, 'config'), result } satisfies StoredResult));
  } catch (error) {
    rmSync(join(dir, `${RESULT_FILE}.tmp-${process.pid}`), { force: true });
    throw new Error(`cannot store the result of ${o.id} in ${dir}: ${(error as Error).message}`);
  }
  return { result, reused: false };
}
