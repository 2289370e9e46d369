import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { beforeAll, describe, expect, it } from 'vitest';
import { disposeLabeledBatch, toLabeledBatch, type FlatMultiModalBatch } from './batches.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** A two-modality batch of `size` samples: 2×2×3 and 2×2×1 per sample, values = their own index. */
function flatBatch(size: number): FlatMultiModalBatch {
  return {
    inputs: [Float32Array.from({ length: size * 12 }, (_, i) => i), Float32Array.from({ length: size * 4 }, (_, i) => -i)],
    sampleShapes: [
      [2, 2, 3],
      [2, 2, 1],
    ],
    labels: Int32Array.from({ length: size }, (_, i) => (i * 7) % 10),
    size,
  };
}

describe('toLabeledBatch', () => {
  it('makes [size, ...sampleShape] float32 inputs and int32 labels with the same values', () => {
    const before = tf.memory().numTensors;
    const flat = flatBatch(3);
    const batch = toLabeledBatch(flat);
    expect(batch.inputs.map((t) => t.shape)).toEqual([
      [3, 2, 2, 3],
      [3, 2, 2, 1],
    ]);
    expect(batch.inputs.map((t) => t.dtype)).toEqual(['float32', 'float32']);
    expect(batch.labels.shape).toEqual([3]);
    expect(batch.labels.dtype).toBe('int32');
    expect(batch.inputs[0].dataSync()).toEqual(flat.inputs[0]);
    expect(batch.inputs[1].dataSync()).toEqual(flat.inputs[1]);
    expect(Array.from(batch.labels.dataSync())).toEqual(Array.from(flat.labels));
    // One value of sample 2, channel 1 at (row 1, col 0): flat index 2·12 + (1·2 + 0)·3 + 1.
    const picked = tf.slice(batch.inputs[0], [2, 1, 0, 1], [1, 1, 1, 1]);
    expect(picked.dataSync()[0]).toBe(2 * 12 + 6 + 1);
    picked.dispose();
    expect(tf.memory().numTensors).toBe(before + 3);
    disposeLabeledBatch(batch);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('handles one modality and an empty batch', () => {
    const before = tf.memory().numTensors;
    const single = toLabeledBatch({ inputs: [new Float32Array(8)], sampleShapes: [[8]], labels: new Int32Array(1), size: 1 });
    expect(single.inputs.map((t) => t.shape)).toEqual([[1, 8]]);
    disposeLabeledBatch(single);
    const empty = toLabeledBatch(flatBatch(0));
    expect(empty.inputs.map((t) => t.shape)).toEqual([
      [0, 2, 2, 3],
      [0, 2, 2, 1],
    ]);
    disposeLabeledBatch(empty);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('names the mismatch and makes no tensor for a bad batch', () => {
    const before = tf.memory().numTensors;
    const good = flatBatch(2);
    // Input 0 is fine, input 1 one value short: nothing may be left behind from input 0.
    expect(() => toLabeledBatch({ ...good, inputs: [good.inputs[0], good.inputs[1].subarray(1)] })).toThrow(
      'toLabeledBatch: input 1 holds 7 values, but size 2 × sample shape [2, 2, 1] needs 8',
    );
    expect(() => toLabeledBatch({ ...good, sampleShapes: [[2, 2, 3]] })).toThrow(/2 inputs but 1 sample shapes/);
    expect(() => toLabeledBatch({ ...good, labels: new Int32Array(3) })).toThrow('toLabeledBatch: 3 labels for a batch of size 2');
    expect(() => toLabeledBatch({ ...good, size: 1.5 })).toThrow(/size must be an integer/);
    expect(tf.memory().numTensors).toBe(before);
  });
});
