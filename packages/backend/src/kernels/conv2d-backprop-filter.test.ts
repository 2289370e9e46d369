import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
// tfjs-core registers no gradients by itself; tfjs-layers (which every model uses) does.
import '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { registerWasmTrainingKernels } from './register-wasm.js';
import { maxAbsDiff, randomValues } from './test-values.js';

const TOLERANCE = 1e-4;


type Pad = 'same' | 'valid' | number | [[number, number], [number, number], [number, number], [number, number]];

interface Case {
  name: string;
  x: [number, number, number, number];
  filter: [number, number, number, number];
  strides: number | [number, number];
  pad: Pad;
  dataFormat?: 'NHWC' | 'NCHW';
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

const CASES: Case[] = [
  { name: '3x3 same stride 1', x: [2, 7, 7, 3], filter: [3, 3, 3, 4], strides: 1, pad: 'same' },
  { name: '3x3 same stride 2 odd size', x: [3, 9, 11, 2], filter: [3, 3, 2, 5], strides: 2, pad: 'same' },
  { name: '3x3 valid stride 2', x: [2, 9, 9, 3], filter: [3, 3, 3, 2], strides: 2, pad: 'valid' },
  { name: '7x7 same stride 2 (ResNet stem)', x: [1, 17, 17, 3], filter: [7, 7, 3, 4], strides: 2, pad: 'same' },
  { name: '1x1 stride 2 projection', x: [2, 8, 8, 4], filter: [1, 1, 4, 6], strides: 2, pad: 'valid' },
  { name: 'non-square filter and strides', x: [2, 10, 7, 2], filter: [2, 3, 2, 3], strides: [2, 1], pad: 'same' },
  { name: 'even filter same', x: [1, 6, 6, 2], filter: [4, 4, 2, 2], strides: 1, pad: 'same' },
  {
    name: 'explicit asymmetric padding',
    x: [2, 6, 5, 2],
    filter: [3, 3, 2, 3],
    strides: 2,
    pad: [[0, 0], [1, 2], [0, 1], [0, 0]],
  },
  { name: 'numeric padding with rounding', x: [1, 8, 8, 2], filter: [3, 3, 2, 2], strides: 2, pad: 1, dimRoundingMode: 'ceil' },
  { name: 'NCHW stride 2', x: [2, 3, 9, 7], filter: [3, 3, 3, 4], strides: 2, pad: 'same', dataFormat: 'NCHW' },
  { name: 'NCHW valid', x: [1, 2, 6, 6], filter: [3, 3, 2, 2], strides: 1, pad: 'valid', dataFormat: 'NCHW' },
];

function outputShape(c: Case): [number, number, number, number] {
  const format = c.dataFormat === 'NCHW' ? 'channelsFirst' : 'channelsLast';
  const info = tf.backend_util.computeConv2DInfo(c.x, c.filter, c.strides, 1, c.pad, c.dimRoundingMode, false, format);
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

  for (const [i, c] of CASES.entries()) {
    it(`matches the cpu backend within ${TOLERANCE}: ${c.name}`, async () => {
      const expected = await filterGradient('cpu', c, 11 + i);
      const actual = await filterGradient('wasm', c, 11 + i);
      expect(actual.length).toBe(c.filter.reduce((a, b) => a * b));
      expect(maxAbsDiff(actual, expected)).toBeLessThanOrEqual(TOLERANCE);
    });
  }

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
