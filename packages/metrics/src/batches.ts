import type * as tf from '@tensorflow/tfjs-core';

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
