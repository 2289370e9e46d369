import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { MMTM } from '@mm/mmtm';
import type { LabeledBatch } from '@mm/metrics';

/** Test fixtures: tiny seeded models of every fusion kind and batches whose label is visible in every modality. */

const init = (seed: number) => tfl.initializers.glorotUniform({ seed });

function convFeature(x: tfl.SymbolicTensor, k: number, seed: number, prefix = `m${k}_`): tfl.SymbolicTensor {
  const conv = tfl.layers.conv2d({ name: `${prefix}conv`, filters: 4, kernelSize: 3, padding: 'same', activation: 'relu', kernelInitializer: init(seed + k) }).apply(x) as tfl.SymbolicTensor;
  return tfl.layers.globalAveragePooling2d({ name: `${prefix}pool` }).apply(conv) as tfl.SymbolicTensor;
}

function inputsOf(modalities: number): tfl.SymbolicTensor[] {
  return Array.from({ length: modalities }, (_, k) => tfl.input({ shape: [6, 6, k + 1], name: `x_m${k}` }));
}

/** Conv branches, one MMTM, a Dense head per branch (the paper's kind). */
export function tinyMmtmModel(seed = 1, modalities = 2, classes = 3): tfl.LayersModel {
  const inputs = inputsOf(modalities);
  const maps = inputs.map((x, k) =>
    tfl.layers.conv2d({ name: `m${k}_conv`, filters: 4, kernelSize: 3, padding: 'same', activation: 'relu', kernelInitializer: init(seed + k) }).apply(x) as tfl.SymbolicTensor,
  );
  const fused = new MMTM({ name: 'mmtm_1', seed: seed + 10 }).apply(maps) as tfl.SymbolicTensor[];
  const heads = fused.map((f, k) => {
    const pooled = tfl.layers.globalAveragePooling2d({ name: `m${k}_pool` }).apply(f) as tfl.SymbolicTensor;
    return tfl.layers.dense({ name: `m${k}_head`, units: classes, kernelInitializer: init(seed + 20 + k) }).apply(pooled) as tfl.SymbolicTensor;
  });
  return tfl.model({ inputs, outputs: heads });
}

/** Conv branches with the user's own names, concatenated (or summed) into one Dense head. */
export function tinyLateModel(seed = 1, modalities = 2, classes = 3, merge: 'concat' | 'sum' = 'concat'): tfl.LayersModel {
  const inputs = inputsOf(modalities);
  const features = inputs.map((x, k) => convFeature(x, k, seed, `enc${k}_`));
  const merged = (merge === 'concat' ? tfl.layers.concatenate({ name: 'merge' }) : tfl.layers.add({ name: 'merge' })).apply(features) as tfl.SymbolicTensor;
  const head = tfl.layers.dense({ name: 'classifier', units: classes, kernelInitializer: init(seed + 20) }).apply(merged) as tfl.SymbolicTensor;
  return tfl.model({ inputs, outputs: head });
}

/** Conv branches, one Dense head applied to each branch's features. */
export function tinySharedHeadModel(seed = 1, modalities = 2, classes = 3): tfl.LayersModel {
  const inputs = inputsOf(modalities);
  const head = tfl.layers.dense({ name: 'shared_head', units: classes, kernelInitializer: init(seed + 20) });
  const outputs = inputs.map((x, k) => head.apply(convFeature(x, k, seed)) as tfl.SymbolicTensor);
  return tfl.model({ inputs, outputs });
}

/** Batch `step`: label i mod classes, visible in every modality through the mean intensity, plus seeded noise. */
export function tinyBatch(step: number, size = 8, modalities = 2, classes = 3): LabeledBatch {
  return tf.tidy(() => {
    const labels = tf.tensor1d(Array.from({ length: size }, (_, i) => (i + step) % classes), 'int32');
    const inputs = Array.from({ length: modalities }, (_, k) => {
      const signal = tf.reshape(tf.cast(labels, 'float32'), [size, 1, 1, 1]);
      // tfjs treats seed 0 as unseeded.
      return tf.add(tf.mul(tf.ones([size, 6, 6, k + 1]), signal), tf.randomNormal([size, 6, 6, k + 1], 0, 0.5, 'float32', step * 10 + k + 1));
    });
    return { inputs, labels };
  });
}

export function disposeBatch(b: LabeledBatch): void {
  tf.dispose([...b.inputs, b.labels]);
}

export function squaredNorm(tensors: tf.Tensor[]): number {
  return tensors.reduce((s, t) => s + tf.tidy(() => tf.sum(tf.square(t)).dataSync()[0]), 0);
}

/** Values of every weight of a model, for equality checks. */
export function weightValues(model: tfl.LayersModel): number[][] {
  return model.weights.map((w) => Array.from(w.read().dataSync()));
}
