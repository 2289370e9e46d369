import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { StoredTensor, TrainerCheckpoint } from '@mm/balance';
import { encodeSafetensors, parseSafetensors, type Float32TensorData } from '@mm/models';
import { readJson, recoverDirectory, writeDirectoryAtomically } from './files.js';

/**
 * A run's checkpoint: `checkpoint/state.json` (the trainer's counters and balancer state, and the
 * loop's own state) and `checkpoint/tensors.safetensors` (model weights with their statistics,
 * optimizer slots, balancer tensors, and any extra tensors such as the best weights so far),
 * replaced as one folder by rename, so a crash at any moment leaves a readable checkpoint.
 */
export interface RunCheckpoint<L> {
  trainer: TrainerCheckpoint;
  /** The loop's own state (epoch logs, best epoch, …). */
  loop: L;
  /** Extra tensors saved with it (e.g. `best/<weight>`). */
  extra: Record<string, StoredTensor>;
}

const STATE = 'state.json';
const TENSORS = 'tensors.safetensors';
const FORMAT = 'mm-example-checkpoint/1';

export function checkpointDir(runDir: string): string {
  return join(runDir, 'checkpoint');
}

export function saveCheckpoint<L>(runDir: string, checkpoint: RunCheckpoint<L>): void {
  const tensors: Record<string, Float32TensorData> = {};
  for (const [name, t] of Object.entries(checkpoint.trainer.tensors)) tensors[`trainer/${name}`] = t;
  for (const [name, t] of Object.entries(checkpoint.extra)) tensors[`extra/${name}`] = t;
  const state = { format: FORMAT, trainer: checkpoint.trainer.json, trainerFormat: checkpoint.trainer.format, loop: checkpoint.loop };
  writeDirectoryAtomically(checkpointDir(runDir), { [STATE]: JSON.stringify(state), [TENSORS]: encodeSafetensors(tensors) });
}

/** A run's checkpoint that cannot be used: `file` says which file or folder, the message what is wrong and what to do. */
export class RunCheckpointError extends Error {
  override readonly name = 'RunCheckpointError';
  constructor(
    readonly file: string,
    problem: string,
    options?: { cause?: unknown },
  ) {
    super(`${file}: ${problem}; delete ${dirname(file)} to start the run over`, options);
  }
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/** The run's last checkpoint, or undefined when it has none yet; a damaged one is a RunCheckpointError naming the file. */
export function loadCheckpoint<L>(runDir: string): RunCheckpoint<L> | undefined {
  const dir = checkpointDir(runDir);
  recoverDirectory(dir);
  const stateFile = join(dir, STATE);
  if (!existsSync(stateFile)) return undefined;
  let state: unknown;
  try {
    state = readJson(stateFile);
  } catch (error) {
    throw new RunCheckpointError(stateFile, (error as Error).message.replace(`${stateFile} is `, ''), { cause: error });
  }
  if (!isObject(state)) throw new RunCheckpointError(stateFile, `holds ${JSON.stringify(state)?.slice(0, 60)}, not a checkpoint`);
  if (state.format !== FORMAT) throw new RunCheckpointError(stateFile, `not a checkpoint of this version (format ${JSON.stringify(state.format)}, expected ${FORMAT})`);
  if (!isObject(state.trainer) || typeof state.trainerFormat !== 'string' || !isObject(state.loop)) {
    throw new RunCheckpointError(stateFile, 'lacks the trainer state, its format or the loop state (edited or truncated?)');
  }
  const tensorFile = join(dir, TENSORS);
  let file;
  try {
    file = parseSafetensors(readFileSync(tensorFile), tensorFile);
  } catch (error) {
    throw new RunCheckpointError(tensorFile, (error as Error).message.replace(`${tensorFile}: `, ''), { cause: error });
  }
  const trainer: Record<string, StoredTensor> = {};
  const extra: Record<string, StoredTensor> = {};
  for (const [name, t] of file.tensors) {
    // A copy: the bytes may be a Buffer view into the whole file, whose .slice() does not copy.
    const bytes = new Uint8Array(t.bytes);
    const stored: StoredTensor =
      t.dtype === 'I32'
        ? { shape: [...t.shape], dtype: 'int32', data: new Int32Array(bytes.buffer, 0, bytes.byteLength / 4) }
        : { shape: [...t.shape], dtype: 'float32', data: t.toFloat32() };
    if (name.startsWith('trainer/')) trainer[name.slice('trainer/'.length)] = stored;
    else if (name.startsWith('extra/')) extra[name.slice('extra/'.length)] = stored;
    else throw new RunCheckpointError(tensorFile, `unexpected tensor '${name}'`);
  }
  return { trainer: { format: state.trainerFormat as TrainerCheckpoint['format'], json: state.trainer as TrainerCheckpoint['json'], tensors: trainer }, loop: state.loop as L, extra };
}

/** The loop's state in a run's last checkpoint, read without its tensors; undefined when it has none. */
export function readCheckpointLoop<L>(runDir: string): L | undefined {
  const dir = checkpointDir(runDir);
  recoverDirectory(dir);
  const stateFile = join(dir, STATE);
  return existsSync(stateFile) ? readJson<{ loop: L }>(stateFile).loop : undefined;
}

/** Writes a finished run's best-validation weights (kept in its checkpoint) into a model of the same architecture. */
export function loadBestWeights(runDir: string, model: tfl.LayersModel): void {
  const checkpoint = loadCheckpoint(runDir);
  if (!checkpoint) throw new Error(`${runDir} has no checkpoint to take the best weights from`);
  tf.tidy(() => {
    for (const w of model.weights) {
      const stored = checkpoint.extra[`best/${w.originalName}`];
      if (!stored) throw new Error(`${checkpointDir(runDir)} has no best weight ${w.originalName}; was it made with another model?`);
      w.write(tf.tensor(stored.data, stored.shape, stored.dtype));
    }
  });
}
