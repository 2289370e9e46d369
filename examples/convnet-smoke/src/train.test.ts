import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '@mm/backend';
import { beforeAll, describe, expect, it } from 'vitest';
import { trainSmoke } from './train.js';

describe('convnet smoke training on wasm', () => {
  beforeAll(async () => {
    await initBackend({ backend: 'wasm', log: false });
  });

  it('lowers the loss over 40 steps and frees every step', () => {
    const before = tf.memory().numTensors;
    const { losses } = trainSmoke(40);
    expect(tf.memory().numTensors).toBe(before);
    const first = (losses[0] + losses[1] + losses[2]) / 3;
    const last = (losses[37] + losses[38] + losses[39]) / 3;
    expect(last).toBeLessThan(first * 0.8);
  });
});
