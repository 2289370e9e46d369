import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { initBackend } from '../init-backend.js';
import { simdModuleFor, SIMD_KERNELS_ENV_VAR } from './simd/simd-module.js';
import { OPTIMIZER_UPDATE } from './optimizer-update.js';

// With the kernel module switched off, the fast kernels are still registered but the
// one-kernel update has nothing to run on: optimizers must keep tfjs-core's update, not throw.
beforeAll(async () => {
  process.env[SIMD_KERNELS_ENV_VAR] = 'xnnpack';
  await initBackend({ backend: 'wasm', log: false });
  expect(simdModuleFor(tf.backend() as BackendWasm)).toBeNull();
});

describe(`optimizer updates with ${SIMD_KERNELS_ENV_VAR}=xnnpack`, () => {
  it('run tfjs-core’s update (momentum and sgd) and give its values', async () => {
    for (const [optimizer, lr] of [[tf.train.momentum(0.01, 0.9), 0.01], [tf.train.sgd(0.05), 0.05]] as [tf.Optimizer, number][]) {
      const variable = tf.variable(tf.tensor1d([1, -2, 3, 0.5]), true);
      const gradient = tf.tensor1d([0.5, 0.25, -1, 2]);
      const apply = () =>
        tf.tidy(() => {
          optimizer.applyGradients({ [variable.name]: gradient });
        });
      const { kernelNames } = await tf.profile(apply);
      expect(kernelNames).not.toContain(OPTIMIZER_UPDATE);
      expect(kernelNames).toContain('Multiply');
      // One step from zero slots: value − lr · gradient for both optimizers.
      const expected = [1 - lr * 0.5, -2 - lr * 0.25, 3 + lr * 1, 0.5 - lr * 2];
      Array.from(variable.dataSync()).forEach((v, i) => expect(v).toBeCloseTo(expected[i], 6));
      optimizer.dispose();
      tf.dispose([variable, gradient]);
    }
  });
});
