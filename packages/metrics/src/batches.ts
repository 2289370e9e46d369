import * as tf from '@tensorflow/tfjs-core';

/**
 * One batch of a K-modality dataset: one tensor per modality and the labels, either class
 * indices ([B], int32) or one-hot ([B, classes]).
 */
export interface LabeledBatch {
  inputs: tf.Tensor[];
  labels: tf.Tensor;
}

/**
 * A batch as flat typed arrays, the shape `@mm/datasets` yields (declared here structurally, so
 * this package needs no dependency on the datasets package, and the datasets package no tfjs).
 */
export interface FlatMultiModalBatch {
  /** One flat array per modality (model input), samples concatenated, channels last. */
  inputs: readonly Float32Array[];
  /** Shape of one sample of each input, e.g. [[28, 28, 3], [28, 28, 1]]. */
  sampleShapes: readonly (readonly number[])[];
  /** Class indices, one per sample. */
  labels: Int32Array;
  size: number;
}

/**
 * Turns a batch of typed arrays into tensors: inputs[k] of shape [size, ...sampleShapes[k]]
 * (float32) and int32 labels [size]. The caller owns (disposes) them, e.g. with
 * `disposeLabeledBatch`, or hands them to a function that takes a `BatchSource` (those dispose).
 * Every length is checked before any tensor is made, so a bad batch leaks nothing.
 */
export function toLabeledBatch(batch: FlatMultiModalBatch): LabeledBatch {
  const { size } = batch;
  if (!(Number.isInteger(size) && size >= 0)) throw new Error(`toLabeledBatch: size must be an integer ≥ 0, got ${size}`);
  if (batch.inputs.length !== batch.sampleShapes.length) {
    throw new Error(`toLabeledBatch: ${batch.inputs.length} inputs but ${batch.sampleShapes.length} sample shapes; give one shape per input`);
  }
  if (batch.labels.length !== size) throw new Error(`toLabeledBatch: ${batch.labels.length} labels for a batch of size ${size}`);
  const shapes = batch.inputs.map((data, k) => {
    const shape = [size, ...batch.sampleShapes[k]];
    const expected = shape.reduce((a, b) => a * b, 1);
    if (data.length !== expected) {
      throw new Error(`toLabeledBatch: input ${k} holds ${data.length} values, but size ${size} × sample shape [${batch.sampleShapes[k].join(', ')}] needs ${expected}`);
    }
    return shape;
  });
  return {
    inputs: batch.inputs.map((data, k) => tf.tensor(data, shapes[k], 'float32')),
    labels: tf.tensor1d(batch.labels, 'int32'),
  };
}

/** Disposes a batch's input and label tensors. */
export function disposeLabeledBatch(batch: LabeledBatch): void {
  tf.dispose([...batch.inputs, batch.labels]);
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

