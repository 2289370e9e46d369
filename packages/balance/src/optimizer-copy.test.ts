import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '@mm/backend';
import { beforeAll, describe, expect, it } from 'vitest';
import { disposeOptimizer, freshOptimizerLike } from './optimizer-copy.js';

describe('freshOptimizerLike / disposeOptimizer', () => {
  beforeAll(async () => {
    await initBackend({ backend: 'wasm', log: false });
  });

  it('rebuilds each built-in optimizer with its settings and no slots, and frees everything it made', async () => {
    const v = tf.variable(tf.tensor1d([1, 2, 3]));
    for (const make of [() => tf.train.sgd(0.3), () => tf.train.momentum(0.2, 0.8, true), () => tf.train.adam(0.01, 0.8, 0.95, 1e-6), () => tf.train.rmsprop(0.01, 0.9, 0.5)]) {
      const original = make();
      tf.tidy(() => original.applyGradients({ [v.name]: tf.onesLike(v) }));
      const tensors = tf.memory().numTensors;
      const copy = freshOptimizerLike(original, 'test');
      expect(copy.getClassName()).toBe(original.getClassName());
      expect(copy.getConfig()).toEqual(original.getConfig());
      expect(copy.iterations).toBe(0);
      const before = Array.from(v.dataSync());
      tf.tidy(() => copy.applyGradients({ [v.name]: tf.onesLike(v) }));
      expect(Array.from(v.dataSync())).not.toEqual(before);
      disposeOptimizer(copy);
      expect(tf.memory().numTensors).toBe(tensors);
      disposeOptimizer(original);
    }
    v.dispose();
  });
});
