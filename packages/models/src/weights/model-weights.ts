import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { encodeSafetensors, parseSafetensors, type Float32TensorData } from './safetensors.js';

/**
 * Keys weights by layer name and the weight's own name (`m0_block1_conv/kernel`): stable across
 * processes, unlike tfjs's uniquified variable names (`…/kernel_3`).
 */
function weightKey(layer: tfl.layers.Layer, variable: tfl.LayerVariable): string {
  const name = variable.originalName;
  return `${layer.name}/${name.slice(name.lastIndexOf('/') + 1)}`;
}

/**
 * Every weight of the model, trainable or not (BatchNorm running statistics and MMTM recorded
 * means included), as safetensors bytes — a checkpoint that `loadModelWeights` restores into a
 * freshly built model of the same architecture.
 */
export function encodeModelWeights(model: tfl.LayersModel): Uint8Array {
  const tensors: Record<string, Float32TensorData> = {};
  for (const layer of model.layers) {
    for (const variable of layer.weights) {
      tensors[weightKey(layer, variable)] = { shape: variable.shape as number[], data: Float32Array.from(variable.read().dataSync()) };
    }
  }
  return encodeSafetensors(tensors);
}

/**
 * Loads bytes written by `encodeModelWeights`. Checks everything before writing anything: a
 * missing or mis-shaped weight gives one error listing the problems, with `hint` (what the
 * caller may have changed) appended.
 */
export function loadModelWeights(model: tfl.LayersModel, bytes: Uint8Array, source: string, hint = 'a different architecture?'): void {
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
    const listed = problems.slice(0, 10).join('; ') + (problems.length > 10 ? ` … and ${problems.length - 10} more` : '');
    throw new Error(`${source} does not fit this model (${hint}): ${listed}`);
  }
  for (const [variable, data, shape] of writes) {
    const value = tf.tensor(data, shape);
    variable.write(value);
    value.dispose();
  }
}
