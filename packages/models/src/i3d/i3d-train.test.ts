import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { initBackend } from '@mm/backend';
import { beforeAll, describe, expect, it } from 'vitest';
import { fusedI3D } from './i3d.js';

// A clip small enough to train on a CPU within a test: 8 frames of 64×64, RGB + depth, batch 2.
const FRAMES = 8;
const SIZE = 64;
const BATCH = 2;
const CLASSES = 5;
const STEPS = 3;

beforeAll(async () => {
  await initBackend({ backend: 'wasm', log: false });
});

describe('fusedI3D training on wasm', () => {
  it('lowers the summed cross-entropy of both heads on a fixed batch without growing the tensor count', () => {
    const model = fusedI3D({ numClasses: CLASSES, inChannels: [3, 1], frames: FRAMES, imageSize: SIZE, dropoutRate: 0 });
    const rgb = tf.randomUniform([BATCH, FRAMES, SIZE, SIZE, 3], 0, 1, 'float32', 1);
    const depth = tf.randomUniform([BATCH, FRAMES, SIZE, SIZE, 1], 0, 1, 'float32', 2);
    const labels = tf.oneHot(tf.tensor1d([1, 3], 'int32'), CLASSES);
    const optimizer = tf.train.momentum(0.01, 0.9);

    const lossFn = () =>
      tf.tidy(() => {
        const heads = model.apply([rgb, depth], { training: true }) as tf.Tensor[];
        return heads.map((h) => tf.losses.softmaxCrossEntropy(labels, h)).reduce((a, b) => tf.add(a, b)) as tf.Scalar;
      });

    const losses: number[] = [];
    const tensorCounts: number[] = [];
    for (let step = 0; step < STEPS; step++) {
      const loss = optimizer.minimize(lossFn, true) as tf.Scalar;
      losses.push(loss.dataSync()[0]);
      loss.dispose();
      tensorCounts.push(tf.memory().numTensors);
    }
    expect(losses.every(Number.isFinite)).toBe(true);
    expect(losses[losses.length - 1]).toBeLessThan(losses[0]);
    // The optimizer creates its momentum slots in the first step; after that nothing may accumulate.
    expect(new Set(tensorCounts.slice(1)).size).toBe(1);

    tf.dispose([rgb, depth, labels]);
    optimizer.dispose();
    model.dispose();
  });
});

// Imported for its side effect of registering the layers' gradients; referenced to keep it.
void tfl.layers;
