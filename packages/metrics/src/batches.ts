import * as tf from '@tensorflow/tfjs-core';

/**
 * One batch of a K-modality dataset: one tensor per modality and the labels, either class
 * indices ([B], int32) or one-hot ([B, classes]).
 */
export interface LabeledBatch {
  inputs: tf.Tensor[];
  labels: tf.Tensor;
}

/** Batches to consume once. Functions that take a source dispose every batch after using it. */
export type BatchSource = Iterable<LabeledBatch> | AsyncIterable<LabeledBatch>;

export async function* iterateBatches(source: BatchSource): AsyncGenerator<LabeledBatch> {
  if (Symbol.asyncIterator in source) {
    yield* source as AsyncIterable<LabeledBatch>;
  } else {
    yield* source as Iterable<LabeledBatch>;
  }
}

/**
 * A batch as the datasets yield it (declared here by shape, so this package does not depend on
 * the datasets package): one flat Float32Array per modality, one sample's shape for each, labels.
 */
export interface FlatBatch {
  inputs: readonly Float32Array[];
  sampleShapes: readonly (readonly number[])[];
  labels: Int32Array;
  size: number;
}

/** One tensor per modality [size, ...sampleShape] and int32 labels [size]; the caller disposes them. */
export function toLabeledBatch(batch: FlatBatch): LabeledBatch {
  if (batch.inputs.length !== batch.sampleShapes.length) {
    throw new Error(`toLabeledBatch: ${batch.inputs.length} inputs but ${batch.sampleShapes.length} sample shapes`);
  }
  batch.inputs.forEach((data, k) => {
    const expected = batch.size * batch.sampleShapes[k].reduce((a, b) => a * b, 1);
    if (data.length !== expected) {
      throw new Error(`toLabeledBatch: input ${k} holds ${data.length} values, ${batch.size} samples of shape ${JSON.stringify(batch.sampleShapes[k])} need ${expected}`);
    }
  });
  if (batch.labels.length !== batch.size) throw new Error(`toLabeledBatch: ${batch.labels.length} labels for ${batch.size} samples`);
  return {
    inputs: batch.inputs.map((data, k) => tf.tensor(data, [batch.size, ...batch.sampleShapes[k]], 'float32')),
    labels: tf.tensor1d(batch.labels, 'int32'),
  };
}
