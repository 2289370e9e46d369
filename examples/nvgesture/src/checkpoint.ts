import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { encodeSafetensors, parseSafetensors, type Float32TensorData } from '@mm/models';

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

function weightKey(layer: tfl.layers.Layer, variable: tfl.LayerVariable): string {
  const name = variable.originalName;
  return `${layer.name}/${name.slice(name.lastIndexOf('/') + 1)}`;
}

export function encodeModelWeights(model: tfl.LayersModel): Uint8Array {
  const tensors: Record<string, Float32TensorData> = {};
  for (const layer of model.layers) {
    for (const variable of layer.weights) {
      tensors[weightKey(layer, variable)] = { shape: variable.shape as number[], data: Float32Array.from(variable.read().dataSync()) };
    }
  }
  return encodeSafetensors(tensors);
}

export function decodeModelWeights(model: tfl.LayersModel, bytes: Uint8Array, source: string): void {
  const file = parseSafetensors(bytes, source);
  const problems: string[] = [];
  const writes: [tfl.LayerVariable, Float32Array, number[]][] = [];
  for (const layer of model.layers) {
    for (const variable of layer.weights) {
      const key = weightKey(layer, variable);
      const stored = file.tensors.get(key);
      const shape = variable.shape as number[];
      if (!stored) problems.push(`${key} missing`);
      else if (stored.shape.join(',') !== shape.join(',')) problems.push(`${key} has shape [${stored.shape}], model needs [${shape}]`);
      else writes.push([variable, stored.toFloat32(), shape]);
    }
  }
  if (problems.length > 0) {
    throw new Error(`${source} does not fit this model (different --method, --frames or --size?): ${problems.slice(0, 10).join('; ')}${problems.length > 10 ? ` … and ${problems.length - 10} more` : ''}`);
  }
  for (const [variable, data, shape] of writes) {
    const value = tf.tensor(data, shape);
    variable.write(value);
    value.dispose();
  }
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
