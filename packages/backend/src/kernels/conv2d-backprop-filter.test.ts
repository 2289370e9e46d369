import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
// tfjs-core registers no gradients by itself; tfjs-layers (which every model uses) does.
import '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { registerWasmTrainingKernels } from './register-wasm.js';
import { CONV_CASES, maxAbsDiff, randomValues, relativeError, type ConvCase as Case } from './test-values.js';

const TOLERANCE = 1e-4;


function outputShape(c: Case): [number, number, number, number] {
  const format = c.dataFormat === 'NCHW' ? 'channelsFirst' : 'channelsLast';
  const info = tf.backend_util.computeConv2DInfo(c.x, c.filter, c.strides, 1, c.pad as tf.backend_util.ExplicitPadding, c.dimRoundingMode, false, format);
  return c.dataFormat === 'NCHW'
    ? [info.batchSize, info.outChannels, info.outHeight, info.outWidth]
    : [info.batchSize, info.outHeight, info.outWidth, info.outChannels];
}

async function filterGradient(backend: string, c: Case, seed: number): Promise<Float32Array> {
  await tf.setBackend(backend);
  const dyShape = outputShape(c);
  return tf.tidy(() => {
    const x = tf.tensor4d(randomValues(c.x.reduce((a, b) => a * b), seed), c.x);
    const dy = tf.tensor4d(randomValues(dyShape.reduce((a, b) => a * b), seed + 7), dyShape);
    const attrs = {
      strides: c.strides,
      pad: c.pad,
      dataFormat: c.dataFormat ?? 'NHWC',
      dimRoundingMode: c.dimRoundingMode,
      filterShape: c.filter,
    };
    // The op itself is internal to tfjs-core; the kernel is what gradients call.
    const out = tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, attrs as never) as tf.Tensor;
    return out.dataSync() as Float32Array;
  });
}


describe('Conv2DBackpropFilter on wasm', () => {
  beforeAll(async () => {
    await tf.setBackend('wasm');
    registerWasmTrainingKernels();
  });

  it('is missing from stock tfjs-backend-wasm and gets registered once', () => {
    expect(tf.getKernel('Conv2DBackpropFilter', 'wasm')).toBeDefined();
    expect(registerWasmTrainingKernels()).toEqual([]);
  });

  for (const [i, c] of CONV_CASES.entries()) {
    it(`matches the cpu backend within ${TOLERANCE}: ${c.name}`, async () => {
      const expected = await filterGradient('cpu', c, 11 + i);
      const actual = await filterGradient('wasm', c, 11 + i);
      expect(actual.length).toBe(c.filter.reduce((a, b) => a * b));
      expect(maxAbsDiff(actual, expected)).toBeLessThanOrEqual(TOLERANCE);
    });
  }

  it('splits large block-copy products along the batch and still matches', async () => {
    // 12 samples · 130·130 rows × 5·5·4 columns needs two chunks of the column buffer.
    const c: Case = { name: 'chunked product', x: [12, 130, 130, 4], filter: [5, 5, 4, 3], strides: 1, pad: 'same' };
    const expected = await filterGradient('cpu', c, 7);
    const actual = await filterGradient('wasm', c, 7);
    // Sums over 200,000 products: the bound is relative to the largest value (≈ 500).
    expect(relativeError(actual, expected)).toBeLessThanOrEqual(TOLERANCE);
  });

  it('splits large problems along the batch and still matches', async () => {
    // 16·33·33 rows × 5·5·8 columns exceeds one chunk of the im2col buffer.
    const c: Case = { name: 'chunked', x: [16, 65, 65, 8], filter: [5, 5, 8, 4], strides: 2, pad: 'same' };
    const expected = await filterGradient('cpu', c, 99);
    const actual = await filterGradient('wasm', c, 99);
    expect(maxAbsDiff(actual, expected)).toBeLessThanOrEqual(TOLERANCE * 10);
  });

  it('gives tf.layers-style conv2d gradients equal to cpu and leaks no tensors', async () => {
    const grads = async (backend: string) => {
      await tf.setBackend(backend);
      const x = tf.tensor4d(randomValues(2 * 9 * 9 * 3, 5), [2, 9, 9, 3]);
      const w = tf.variable(tf.tensor4d(randomValues(3 * 3 * 3 * 4, 6), [3, 3, 3, 4]));
      const f = () => tf.sum(tf.square(tf.conv2d(x, w, 2, 'same'))) as tf.Scalar;
      const before = tf.memory().numTensors;
      for (let i = 0; i < 3; i++) tf.tidy(() => tf.variableGrads(f).grads[w.name].dataSync());
      const after = tf.memory().numTensors;
      const g = tf.tidy(() => tf.variableGrads(f).grads[w.name].dataSync() as Float32Array);
      x.dispose();
      w.dispose();
      return { g, leaked: after - before };
    };
    const cpu = await grads('cpu');
    const wasm = await grads('wasm');
    expect(wasm.leaked).toBe(0);
    expect(maxAbsDiff(wasm.g, cpu.g)).toBeLessThanOrEqual(TOLERANCE * 10);
  });
});
