import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import * as tfl from '@tensorflow/tfjs-layers';
import { afterAll, describe, expect, it } from 'vitest';
import { currentMoments, restoreStockMoments, useOnePassMomentsGradient } from './moments-gradient.js';
import { registerWasmTrainingKernels } from './register-wasm.js';
import { randomValues, relativeError, size } from './test-values.js';

const CASES = [
  { x: [4, 5, 3, 6], axes: [0, 1, 2], keepDims: false },
  { x: [7, 2], axes: [0], keepDims: true },
  { x: [3, 4, 5], axes: [1], keepDims: false },
  { x: [2, 3, 4], axes: null, keepDims: false },
];

afterAll(() => {
  useOnePassMomentsGradient();
});

describe.each(['cpu', 'wasm'])('one-pass moments gradient on %s', (backend) => {
  for (const [i, c] of CASES.entries()) {
    it(`x ${JSON.stringify(c.x)}, axes ${JSON.stringify(c.axes)}${c.keepDims ? ', keepDims' : ''}: same statistics, gradient within 1e-5`, async () => {
      await tf.setBackend(backend);
      const x = tf.tensor(randomValues(size(c.x), 40 + i).map((v) => v * 3 + 1), c.x);
      const run = () =>
        tf.tidy(() => {
          const moments = currentMoments();
          let stats: { mean: tf.Tensor; variance: tf.Tensor } | undefined;
          const grad = tf.grad((input: tf.Tensor) => {
            stats = moments(input, c.axes ?? undefined, c.keepDims);
            const wMean = tf.tensor(randomValues(stats.mean.size, 50 + i), stats.mean.shape);
            const wVariance = tf.tensor(randomValues(stats.variance.size, 60 + i), stats.variance.shape);
            return tf.add(tf.sum(tf.mul(wMean, stats.mean)), tf.sum(tf.mul(wVariance, stats.variance)));
          })(x);
          const forward = moments(x, c.axes ?? undefined, c.keepDims);
          return {
            grad: Float32Array.from(grad.dataSync() as Float32Array),
            mean: Array.from(forward.mean.dataSync()),
            variance: Array.from(forward.variance.dataSync()),
            shapes: [stats!.mean.shape, stats!.variance.shape],
          };
        });
      restoreStockMoments();
      const stock = run();
      expect(useOnePassMomentsGradient()).toBe(true);
      const before = tf.memory().numTensors;
      const onePass = run();
      expect(tf.memory().numTensors).toBe(before);
      expect(onePass.shapes).toEqual(stock.shapes);
      expect(onePass.mean).toEqual(stock.mean);
      expect(onePass.variance).toEqual(stock.variance);
      expect(relativeError(onePass.grad, stock.grad)).toBeLessThanOrEqual(1e-5);
      x.dispose();
    });
  }

  it('trains tf.layers batch normalisation like tfjs-core, statistics and moving averages included', async () => {
    await tf.setBackend(backend);
    if (backend === 'wasm') registerWasmTrainingKernels();
    const x = tf.tensor4d(randomValues(8 * 6 * 6 * 3, 70), [8, 6, 6, 3]);
    const build = () =>
      tfl.sequential({
        layers: [
          tfl.layers.conv2d({ inputShape: [6, 6, 3], filters: 5, kernelSize: 3, padding: 'same', kernelInitializer: tfl.initializers.glorotUniform({ seed: 1 }) }),
          tfl.layers.batchNormalization({}),
          tfl.layers.activation({ activation: 'relu' }),
          tfl.layers.globalAveragePooling2d({}),
          tfl.layers.dense({ units: 2, kernelInitializer: tfl.initializers.glorotUniform({ seed: 2 }) }),
        ],
      });
    const step = async () => {
      const model = build();
      const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
      let computed: { value: tf.Scalar; grads: tf.NamedTensorMap } | undefined;
      const profile = await tf.profile(() => {
        computed = tf.variableGrads(() => tf.sum(tf.square(model.apply(x, { training: true }) as tf.Tensor)) as tf.Scalar, vars);
      });
      // Whether tfjs-layers went through the installed moments: only ours stacks mean and variance.
      const stacked = profile.kernelNames.includes('Pack');
      const { value, grads } = computed!;
      const out = {
        loss: value.dataSync()[0],
        grads: Object.values(grads).map((g) => Float32Array.from(g.dataSync() as Float32Array)),
        // tfjs-layers updates the moving statistics from the batch moments during the pass.
        moving: model.getWeights().slice(-2).map((w) => Array.from(w.dataSync())),
        stacked,
      };
      tf.dispose([value, ...Object.values(grads)]);
      model.dispose();
      return out;
    };
    restoreStockMoments();
    const stock = await step();
    useOnePassMomentsGradient();
    const onePass = await step();
    expect([stock.stacked, onePass.stacked]).toEqual([false, true]);
    expect(onePass.loss).toBe(stock.loss);
    expect(onePass.moving).toEqual(stock.moving);
    for (const [k, g] of onePass.grads.entries()) expect(relativeError(g, stock.grads[k])).toBeLessThanOrEqual(1e-4);
    x.dispose();
  });
});
