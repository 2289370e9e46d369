import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import * as tfl from '@tensorflow/tfjs-layers';
import { afterAll, describe, expect, it } from 'vitest';
import { restoreStockFusedConv2D, usePerInputFusedConv2DGradients } from './fused-conv2d-gradient.js';
import { registerWasmTrainingKernels } from './register-wasm.js';
import { randomValues } from './test-values.js';

/** First conv with bias, a ReLU-fused conv (tfjs's own path), a strided bias-free conv, a head. */
function buildModel(): tfl.LayersModel {
  const init = (seed: number) => tfl.initializers.glorotUniform({ seed });
  return tfl.sequential({
    layers: [
      tfl.layers.conv2d({ inputShape: [9, 9, 3], filters: 4, kernelSize: 3, padding: 'same', kernelInitializer: init(1), biasInitializer: 'glorotUniform' }),
      tfl.layers.conv2d({ filters: 5, kernelSize: 3, padding: 'same', activation: 'relu', kernelInitializer: init(2) }),
      tfl.layers.conv2d({ filters: 6, kernelSize: 3, strides: 2, padding: 'valid', useBias: false, kernelInitializer: init(3) }),
      tfl.layers.globalAveragePooling2d({}),
      tfl.layers.dense({ units: 3, kernelInitializer: init(4) }),
    ],
  });
}

interface StepResult {
  grads: Map<string, Float32Array>;
  kernels: string[];
  prediction: Float32Array;
}

async function gradientStep(model: tfl.LayersModel, x: tf.Tensor4D): Promise<StepResult> {
  const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
  let computed: { value: tf.Scalar; grads: tf.NamedTensorMap } | undefined;
  const profile = await tf.profile(() => {
    computed = tf.variableGrads(() => tf.sum(tf.square(model.apply(x, { training: true }) as tf.Tensor)) as tf.Scalar, vars);
  });
  const grads = new Map(Object.entries(computed!.grads).map(([name, g]) => [name, Float32Array.from(g.dataSync() as Float32Array)]));
  tf.dispose([computed!.value, ...Object.values(computed!.grads)]);
  const prediction = tf.tidy(() => Float32Array.from((model.predict(x) as tf.Tensor).dataSync() as Float32Array));
  return { grads, kernels: profile.kernels.map((k) => k.name), prediction };
}

afterAll(() => {
  usePerInputFusedConv2DGradients();
});

describe.each(['cpu', 'wasm'])('per-input fused conv2d gradients on %s', (backend) => {
  it('give the same gradients bit for bit, without the first layer\'s input gradient, and leak nothing', async () => {
    await tf.setBackend(backend);
    if (backend === 'wasm') registerWasmTrainingKernels();
    const model = buildModel();
    const x = tf.tensor4d(randomValues(2 * 9 * 9 * 3, 11), [2, 9, 9, 3]);

    restoreStockFusedConv2D();
    const stock = await gradientStep(model, x);
    expect(usePerInputFusedConv2DGradients()).toBe(true);
    const before = tf.memory().numTensors;
    const patched = await gradientStep(model, x);
    await gradientStep(model, x);
    expect(tf.memory().numTensors).toBe(before);

    expect([...patched.grads.keys()]).toEqual([...stock.grads.keys()]);
    for (const [name, g] of stock.grads) expect(patched.grads.get(name), name).toEqual(g);
    expect(patched.prediction).toEqual(stock.prediction);
    // Three convolutions: stock computes dx for all three, the first one's is dropped here.
    const count = (kernels: string[], name: string) => kernels.filter((k) => k === name).length;
    expect(count(stock.kernels, 'Conv2DBackpropInput')).toBe(3);
    expect(count(patched.kernels, 'Conv2DBackpropInput')).toBe(2);
    expect(count(patched.kernels, 'Conv2DBackpropFilter')).toBe(3);
    model.dispose();
    x.dispose();
  });
});
