import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type * as tfl from '@tensorflow/tfjs-layers';
import { encodeModelWeights, loadModelWeights } from '@mm/models';

/**
 * Checkpoints: `checkpoint/{weights.safetensors,state.json}` written into a temporary folder
 * that replaces the previous one by rename, so a crash leaves either the old or the new
 * checkpoint, never half of one. Weights are keyed by layer name (stable across processes) and
 * include BatchNorm and MMTM statistics.
 */

export function writeFileAtomically(file: string, content: string | Uint8Array): void {
  mkdirSync(dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, content);
  renameSync(tmp, file);
}

export function saveCheckpoint<State>(root: string, model: tfl.LayersModel, state: State): void {
  const dir = join(root, 'checkpoint');
  const tmp = `${dir}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  writeFileSync(join(tmp, 'weights.safetensors'), encodeModelWeights(model));
  writeFileSync(join(tmp, 'state.json'), JSON.stringify(state, null, 2));
  const old = `${dir}.old-${process.pid}`;
  if (existsSync(dir)) renameSync(dir, old);
  renameSync(tmp, dir);
  rmSync(old, { recursive: true, force: true });
}

export function loadCheckpoint<State>(root: string): { state: State; weights: Uint8Array; dir: string } | undefined {
  const dir = join(root, 'checkpoint');
  if (!existsSync(join(dir, 'state.json'))) return undefined;
  try {
    return { state: JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8')) as State, weights: readFileSync(join(dir, 'weights.safetensors')), dir };
  } catch (error) {
    throw new Error(`checkpoint ${dir} is unreadable: ${(error as Error).message}. Delete it to start over.`);
  }
}

/** Restores `encodeModelWeights` bytes, naming the CLI options that change the architecture. */
export function decodeModelWeights(model: tfl.LayersModel, bytes: Uint8Array, source: string): void {
  loadModelWeights(model, bytes, source, 'different --method, --frames or --size?');
}

export { encodeModelWeights };
