import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type * as tfl from '@tensorflow/tfjs-layers';
import { encodeModelWeights, loadModelWeights } from '@mm/models';

/**
 * Checkpoints: `checkpoint/epoch-NNNN/{weights.safetensors,state.json}` plus `checkpoint/latest.json`
 * naming the newest complete one. Each epoch folder is written under a temporary name and
 * renamed when complete, then latest.json is replaced by rename: a crash at any point leaves
 * the previous checkpoint readable. Weights are keyed by layer name (stable across processes,
 * unlike tfjs's uniquified variable names) and include BatchNorm and MMTM statistics.
 */

/** Writes one file atomically (temporary file + rename). */
export function writeFileAtomically(file: string, content: string | Uint8Array): void {
  mkdirSync(dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, content);
  renameSync(tmp, file);
}

export interface Checkpoint<State> {
  epoch: number;
  state: State;
  weights: Uint8Array;
  dir: string;
}

const epochDir = (root: string, epoch: number) => join(root, 'checkpoint', `epoch-${String(epoch).padStart(4, '0')}`);

export function saveCheckpoint<State>(root: string, epoch: number, model: tfl.LayersModel, state: State): string {
  const dir = epochDir(root, epoch);
  const tmp = `${dir}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  writeFileSync(join(tmp, 'weights.safetensors'), encodeModelWeights(model));
  writeFileSync(join(tmp, 'state.json'), JSON.stringify(state, null, 2));
  rmSync(dir, { recursive: true, force: true });
  renameSync(tmp, dir);
  writeFileAtomically(join(root, 'checkpoint', 'latest.json'), JSON.stringify({ epoch, dir: dir.slice(join(root, 'checkpoint').length + 1) }));
  // Older epochs are no longer needed once latest.json points past them.
  for (const name of readdirSync(join(root, 'checkpoint'))) {
    if (name.startsWith('epoch-') && join(root, 'checkpoint', name) !== dir) rmSync(join(root, 'checkpoint', name), { recursive: true, force: true });
  }
  return dir;
}

export function loadLatestCheckpoint<State>(root: string): Checkpoint<State> | undefined {
  const pointer = join(root, 'checkpoint', 'latest.json');
  if (!existsSync(pointer)) return undefined;
  let latest: { epoch: number; dir: string };
  try {
    latest = JSON.parse(readFileSync(pointer, 'utf8'));
  } catch (error) {
    throw new Error(`cannot read ${pointer}: ${(error as Error).message}. Delete ${join(root, 'checkpoint')} to start over.`);
  }
  const dir = join(root, 'checkpoint', latest.dir);
  try {
    return {
      epoch: latest.epoch,
      state: JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8')) as State,
      weights: readFileSync(join(dir, 'weights.safetensors')),
      dir,
    };
  } catch (error) {
    throw new Error(`checkpoint ${dir} is unreadable: ${(error as Error).message}. Delete ${join(root, 'checkpoint')} to start over.`);
  }
}

/** Restores `encodeModelWeights` bytes, naming the CLI options that change the architecture. */
export function decodeModelWeights(model: tfl.LayersModel, bytes: Uint8Array, source: string): void {
  loadModelWeights(model, bytes, source, 'different --views, --image-size or --method?');
}

export { encodeModelWeights };
