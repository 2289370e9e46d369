import * as tf from '@tensorflow/tfjs-core';

/**
 * The batch shape `@mm/datasets` iterators yield (declared structurally here, so this package
 * needs no dependency on the datasets package): one flat Float32Array per model input, the
 * shape of one sample of each, and integer labels.
 */
export interface FlatMultiModalBatch {
  inputs: readonly Float32Array[];
  /** Shape of one sample of each input, e.g. [[28, 28, 3], [28, 28, 1]]. */
  sampleShapes: readonly (readonly number[])[];
  labels: Int32Array;
  size: number;
}

export interface BatchTensors {
  /** One tensor per input, [size, ...sampleShape]. */
  inputs: tf.Tensor[];
  /** int32 [size]. */
  labels: tf.Tensor1D;
  /** float32 [size, numClasses], only when `numClasses` was given. */
  oneHot?: tf.Tensor2D;
}

/**
 * Turns a batch into tfjs tensors (the caller disposes them, e.g. with `disposeBatchTensors`
 * or inside `tf.tidy`). Lives here rather than in `@mm/datasets` so that loading data never
 * needs tfjs.
 */
export function batchToTensors(batch: FlatMultiModalBatch, numClasses?: number): BatchTensors {
  if (batch.inputs.length !== batch.sampleShapes.length) {
    throw new Error(`batchToTensors: ${batch.inputs.length} inputs but ${batch.sampleShapes.length} sample shapes`);
  }
  const inputs = batch.inputs.map((data, k) => {
    const shape = [batch.size, ...batch.sampleShapes[k]];
    const expected = shape.reduce((a, b) => a * b, 1);
    if (data.length !== expected) {
      throw new Error(`batchToTensors: input ${k} holds ${data.length} values, shape ${JSON.stringify(shape)} needs ${expected}`);
    }
    return tf.tensor(data, shape, 'float32');
  });
  const labels = tf.tensor1d(batch.labels, 'int32');
  const oneHot = numClasses === undefined ? undefined : tf.tidy(() => tf.cast(tf.oneHot(labels, numClasses), 'float32') as tf.Tensor2D);
  return { inputs, labels, oneHot };
}

export function disposeBatchTensors(tensors: BatchTensors): void {
  tf.dispose([...tensors.inputs, tensors.labels, ...(tensors.oneHot ? [tensors.oneHot] : [])]);
}
