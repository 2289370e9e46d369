import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { encodeModelWeights, encodeSafetensors, loadModelWeights, parseSafetensors, type Float32TensorData } from '@mm/models';

/**
 * Checkpoints: `checkpoint/{weights.safetensors,state.json}` written into a temporary folder
 * that replaces the previous one by rename, so a crash leaves either the old or the new
 * checkpoint, never half of one. Weights are keyed by layer name (stable across processes) and
 * include BatchNorm and MMTM statistics; `optimizer.safetensors` holds the optimizer's slots
 * (momentum) in their order, so a resumed run continues exactly where it stopped.
 */

export function writeFileAtomically(file: string, content: string | Uint8Array): void {
  mkdirSync(dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, content);
  renameSync(tmp, file);
}

/** The optimizer's slots, keyed by position: tfjs matches slots to variables by order, and slot names are not stable across processes. */
async function encodeOptimizer(optimizer: tf.Optimizer): Promise<Uint8Array> {
  const weights = await optimizer.getWeights();
  const tensors: Record<string, Float32TensorData> = {};
  weights.forEach((w, i) => {
    tensors[String(i).padStart(5, '0')] = { shape: w.tensor.shape, data: Float32Array.from(w.tensor.dataSync()) };
  });
  // getWeights() returns the slot variables themselves plus a fresh iteration-count scalar.
  tf.dispose(weights.map((w) => w.tensor).filter((t) => !(t instanceof tf.Variable)));
  return encodeSafetensors(tensors);
}

export async function restoreOptimizer(optimizer: tf.Optimizer, bytes: Uint8Array, source: string): Promise<void> {
  const file = parseSafetensors(bytes, source);
  const names = [...file.tensors.keys()].sort();
  const weights = names.map((name) => {
    const stored = file.tensors.get(name)!;
    return { name, tensor: tf.tensor(stored.toFloat32(), [...stored.shape]) };
  });
  await optimizer.setWeights(weights);
  // The optimizer copied them into its own slot variables.
  tf.dispose(weights.map((w) => w.tensor));
}

export async function saveCheckpoint<State>(root: string, model: tfl.LayersModel, optimizer: tf.Optimizer, state: State): Promise<void> {
  const dir = join(root, 'checkpoint');
  const tmp = `${dir}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  writeFileSync(join(tmp, 'weights.safetensors'), encodeModelWeights(model));
  writeFileSync(join(tmp, 'optimizer.safetensors'), await encodeOptimizer(optimizer));
  writeFileSync(join(tmp, 'state.json'), JSON.stringify(state, null, 2));
  const old = `${dir}.old-${process.pid}`;
  if (existsSync(dir)) renameSync(dir, old);
  renameSync(tmp, dir);
  rmSync(old, { recursive: true, force: true });
}

export function loadCheckpoint<State>(root: string): { state: State; weights: Uint8Array; optimizer?: Uint8Array; dir: string } | undefined {
  const dir = join(root, 'checkpoint');
  if (!existsSync(join(dir, 'state.json'))) return undefined;
  try {
    const optimizerFile = join(dir, 'optimizer.safetensors');
    return {
      state: JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8')) as State,
      weights: readFileSync(join(dir, 'weights.safetensors')),
      // Checkpoints written before the optimizer was saved resume with fresh momentum.
      optimizer: existsSync(optimizerFile) ? readFileSync(optimizerFile) : undefined,
      dir,
    };
  } catch (error) {
    throw new Error(`checkpoint ${dir} is unreadable: ${(error as Error).message}. Delete it to start over.`);
  }
}

/** Restores `encodeModelWeights` bytes, naming the CLI options that change the architecture. */
export function decodeModelWeights(model: tfl.LayersModel, bytes: Uint8Array, source: string): void {
  loadModelWeights(model, bytes, source, 'different --method, --frames or --size?');
}

export { encodeModelWeights };
