import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
// tfjs-core registers no gradients by itself; tfjs-layers (which every model uses) does.
import '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { registerWasmTrainingKernels } from './register-wasm.js';
import * as reference from './reference-3d.js';
import { maxAbsDiff, randomValues } from './test-values.js';

/**
 * The 3-D training kernels I3D needs (Conv3D, Conv3DBackpropFilterV2, Conv3DBackpropInputV2,
 * MaxPool3D(Grad), AvgPool3D(Grad)) ship with tfjs-backend-wasm 4.22, but several of them are
 * wrong there (see conv3d-wasm.ts). These tests check the kernels registered for wasm after
 * `registerWasmTrainingKernels()` against direct-loop references written from the definitions
 * (reference-3d.ts), and against the cpu backend where cpu is right, on awkward shapes (stride 2,
 * odd sizes, same/valid, non-cubic kernels), so a layout or padding bug cannot hide behind "it trains".
 */

// float32 sums of up to a few hundred products of values in [-1, 1): 1e-4 absolute is ~100 ulp.
const TOLERANCE = 1e-4;

type Shape5 = reference.Shape5;
type Triple = reference.Triple;


const sizeOf = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);


interface ConvCase {
  name: string;
  x: Shape5;
  filter: Shape5;
  strides: number | Triple;
  pad: 'same' | 'valid';
}

const CONV_CASES: ConvCase[] = [
  { name: '3x3x3 same stride 1', x: [2, 5, 6, 7, 3], filter: [3, 3, 3, 3, 4], strides: 1, pad: 'same' },
  { name: '3x3x3 same stride 2 odd sizes', x: [2, 7, 9, 11, 2], filter: [3, 3, 3, 2, 5], strides: 2, pad: 'same' },
  { name: '3x3x3 valid stride 2', x: [1, 7, 9, 9, 3], filter: [3, 3, 3, 3, 2], strides: 2, pad: 'valid' },
  { name: '7x7x7 same stride 2 (I3D stem)', x: [1, 9, 15, 13, 3], filter: [7, 7, 7, 3, 4], strides: 2, pad: 'same' },
  { name: '1x1x1 pointwise', x: [3, 4, 5, 5, 6], filter: [1, 1, 1, 6, 7], strides: 1, pad: 'valid' },
  { name: 'non-cubic kernel and strides', x: [2, 6, 10, 7, 2], filter: [2, 3, 1, 2, 3], strides: [1, 2, 3], pad: 'same' },
  { name: 'even kernel same', x: [1, 6, 6, 6, 2], filter: [2, 4, 4, 2, 2], strides: 1, pad: 'same' },
];

function convOutShape(c: ConvCase): Shape5 {
  const info = tf.backend_util.computeConv3DInfo(c.x, c.filter, c.strides, 1, c.pad);
  return info.outShape as Shape5;
}

/** Runs f on a backend; f returns plain arrays, so tidy only cleans up its tensors. */
async function onBackend<T>(backend: string, f: () => T): Promise<T> {
  await tf.setBackend(backend);
  let result: T | undefined;
  tf.tidy(() => {
    result = f();
  });
  return result as T;
}

function runConvKernel(kernel: 'Conv3D' | 'Conv3DBackpropFilterV2' | 'Conv3DBackpropInputV2', c: ConvCase, seed: number) {
  const x = tf.tensor5d(randomValues(sizeOf(c.x), seed), c.x);
  const w = tf.tensor5d(randomValues(sizeOf(c.filter), seed + 1), c.filter);
  const dyShape = convOutShape(c);
  const dy = tf.tensor5d(randomValues(sizeOf(dyShape), seed + 2), dyShape);
  const common = { strides: c.strides, pad: c.pad, dilations: 1 };
  let out: tf.Tensor;
  if (kernel === 'Conv3D') {
    out = tf.engine().runKernel('Conv3D', { x, filter: w }, { ...common, dataFormat: 'NDHWC' } as never) as tf.Tensor;
  } else if (kernel === 'Conv3DBackpropFilterV2') {
    out = tf.engine().runKernel(kernel, { x, dy }, { ...common, filterShape: c.filter } as never) as tf.Tensor;
  } else {
    out = tf.engine().runKernel(kernel, { dy, filter: w }, { ...common, inputShape: c.x } as never) as tf.Tensor;
  }
  return { shape: out.shape, values: out.dataSync() as Float32Array };
}

interface PoolCase {
  name: string;
  x: Shape5;
  filterSize: Triple;
  strides: Triple;
  pad: 'same' | 'valid';
}

const POOL_CASES: PoolCase[] = [
  { name: '3x3x3 stride 1 same (inception branch)', x: [2, 5, 6, 7, 3], filterSize: [3, 3, 3], strides: [1, 1, 1], pad: 'same' },
  { name: '1x3x3 stride 1,2,2 same odd sizes', x: [1, 4, 9, 11, 2], filterSize: [1, 3, 3], strides: [1, 2, 2], pad: 'same' },
  { name: '3x3x3 stride 2 same odd sizes', x: [2, 7, 9, 5, 2], filterSize: [3, 3, 3], strides: [2, 2, 2], pad: 'same' },
  { name: '2x2x2 stride 2 valid', x: [1, 6, 8, 8, 3], filterSize: [2, 2, 2], strides: [2, 2, 2], pad: 'valid' },
  { name: '2x7x7 stride 1 valid (I3D logits pool)', x: [2, 4, 7, 7, 4], filterSize: [2, 7, 7], strides: [1, 1, 1], pad: 'valid' },
];

function runPoolKernel(kernel: 'MaxPool3D' | 'AvgPool3D' | 'MaxPool3DGrad' | 'AvgPool3DGrad', c: PoolCase, seed: number) {
  const x = tf.tensor5d(randomValues(sizeOf(c.x), seed), c.x);
  const attrs = { filterSize: c.filterSize, strides: c.strides, pad: c.pad, dataFormat: 'NDHWC' };
  const info = tf.backend_util.computePool3DInfo(c.x, c.filterSize, c.strides, 1, c.pad);
  const dy = tf.tensor5d(randomValues(sizeOf(info.outShape), seed + 3), info.outShape as Shape5);
  let out: tf.Tensor;
  if (kernel === 'MaxPool3D' || kernel === 'AvgPool3D') {
    out = tf.engine().runKernel(kernel, { x }, attrs as never) as tf.Tensor;
  } else if (kernel === 'MaxPool3DGrad') {
    const y = tf.engine().runKernel('MaxPool3D', { x }, attrs as never) as tf.Tensor;
    out = tf.engine().runKernel(kernel, { dy, input: x, output: y }, attrs as never) as tf.Tensor;
  } else {
    out = tf.engine().runKernel(kernel, { dy, input: x }, attrs as never) as tf.Tensor;
  }
  return { shape: out.shape, values: out.dataSync() as Float32Array };
}

describe('3-D convolution and pooling kernels on wasm', () => {
  beforeAll(async () => {
    await tf.setBackend('wasm');
    registerWasmTrainingKernels();
  });

  it('are all registered for wasm, idempotently', () => {
    expect(registerWasmTrainingKernels()).toEqual([]);
    for (const name of [
      'Conv3D',
      'Conv3DBackpropFilterV2',
      'Conv3DBackpropInputV2',
      'MaxPool3D',
      'MaxPool3DGrad',
      'AvgPool3D',
      'AvgPool3DGrad',
    ]) {
      expect(tf.getKernel(name, 'wasm'), name).toBeDefined();
    }
  });

  function referenceConv(kernel: 'Conv3D' | 'Conv3DBackpropFilterV2' | 'Conv3DBackpropInputV2', c: ConvCase, seed: number) {
    const x = randomValues(sizeOf(c.x), seed);
    const w = randomValues(sizeOf(c.filter), seed + 1);
    const dy = randomValues(sizeOf(convOutShape(c)), seed + 2);
    if (kernel === 'Conv3D') return reference.referenceConv3d(x, c.x, w, c.filter, c.strides, c.pad);
    if (kernel === 'Conv3DBackpropFilterV2') return reference.referenceConv3dFilterGrad(x, c.x, dy, c.filter, c.strides, c.pad);
    return reference.referenceConv3dInputGrad(dy, c.x, w, c.filter, c.strides, c.pad);
  }

  for (const kernel of ['Conv3D', 'Conv3DBackpropFilterV2', 'Conv3DBackpropInputV2'] as const) {
    for (const [i, c] of CONV_CASES.entries()) {
      it(`${kernel} matches the reference and cpu within ${TOLERANCE}: ${c.name}`, async () => {
        const expected = referenceConv(kernel, c, 31 + i);
        const cpu = await onBackend('cpu', () => runConvKernel(kernel, c, 31 + i));
        const actual = await onBackend('wasm', () => runConvKernel(kernel, c, 31 + i));
        expect(actual.shape).toEqual(cpu.shape);
        expect(maxAbsDiff(actual.values, expected)).toBeLessThanOrEqual(TOLERANCE);
        expect(maxAbsDiff(cpu.values, expected)).toBeLessThanOrEqual(TOLERANCE);
      });
    }
  }

  it('Conv3D and its gradients split large problems into row chunks and still match', async () => {
    // 2·16·32·32 rows × 3·3·3·16 columns exceeds one chunk of the vol2col buffer.
    const c: ConvCase = { name: 'chunked', x: [2, 16, 32, 32, 16], filter: [3, 3, 3, 16, 3], strides: 1, pad: 'same' };
    for (const kernel of ['Conv3D', 'Conv3DBackpropFilterV2', 'Conv3DBackpropInputV2'] as const) {
      const expected = referenceConv(kernel, c, 5);
      const actual = await onBackend('wasm', () => runConvKernel(kernel, c, 5));
      // Sums over ~65k products for the filter gradient: a looser absolute bound.
      expect(maxAbsDiff(actual.values, expected), kernel).toBeLessThanOrEqual(TOLERANCE * 50);
    }
  });

  function referencePool(kernel: 'MaxPool3D' | 'AvgPool3D' | 'MaxPool3DGrad' | 'AvgPool3DGrad', c: PoolCase, seed: number) {
    const x = randomValues(sizeOf(c.x), seed);
    const info = tf.backend_util.computePool3DInfo(c.x, c.filterSize, c.strides, 1, c.pad);
    const dy = randomValues(sizeOf(info.outShape), seed + 3);
    if (kernel === 'MaxPool3D') return reference.referenceMaxPool3d(x, c.x, c.filterSize, c.strides, c.pad).y;
    if (kernel === 'AvgPool3D') return reference.referenceAvgPool3d(x, c.x, c.filterSize, c.strides, c.pad);
    if (kernel === 'MaxPool3DGrad') return reference.referenceMaxPool3dGrad(x, c.x, dy, c.filterSize, c.strides, c.pad);
    return reference.referenceAvgPool3dGrad(c.x, dy, c.filterSize, c.strides, c.pad);
  }

  for (const kernel of ['MaxPool3D', 'AvgPool3D', 'MaxPool3DGrad', 'AvgPool3DGrad'] as const) {
    for (const [i, c] of POOL_CASES.entries()) {
      it(`${kernel} matches the reference within ${TOLERANCE}: ${c.name}`, async () => {
        const expected = referencePool(kernel, c, 71 + i);
        const actual = await onBackend('wasm', () => runPoolKernel(kernel, c, 71 + i));
        expect(maxAbsDiff(actual.values, expected)).toBeLessThanOrEqual(TOLERANCE);
        // cpu's AvgPool3DGrad divides by the whole window even where its forward pass averages
        // over the in-bounds part only ('same' padding), so it is only comparable for 'valid'.
        if (kernel !== 'AvgPool3DGrad' || c.pad === 'valid') {
          const cpu = await onBackend('cpu', () => runPoolKernel(kernel, c, 71 + i));
          expect(actual.shape).toEqual(cpu.shape);
          expect(maxAbsDiff(cpu.values, expected)).toBeLessThanOrEqual(TOLERANCE);
        }
      });
    }
  }

  it('SplitV (the inception concat gradient) splits any axis of any rank like cpu', async () => {
    const cases: { shape: number[]; splits: number[] | number; axis: number }[] = [
      { shape: [2, 3, 4, 5, 10], splits: [2, 3, 4, 1], axis: -1 },
      { shape: [2, 3, 4, 5, 10], splits: [1, -1], axis: 2 },
      { shape: [6, 7], splits: 3, axis: 0 },
      { shape: [4, 40], splits: [30, 10], axis: 1 },
    ];
    for (const [i, c] of cases.entries()) {
      const run = () => {
        const x = tf.tensor(randomValues(sizeOf(c.shape), 90 + i), c.shape);
        return tf.split(x, c.splits, c.axis).map((t) => ({ shape: t.shape, values: t.dataSync() as Float32Array }));
      };
      const cpu = await onBackend('cpu', run);
      const wasm = await onBackend('wasm', run);
      expect(wasm.map((t) => t.shape)).toEqual(cpu.map((t) => t.shape));
      wasm.forEach((t, k) => expect(Array.from(t.values)).toEqual(Array.from(cpu[k].values)));
    }
    expect(tf.getKernel('SplitV', 'wasm')?.kernelFunc).toBeDefined();
  });

  it('gives conv3d + maxPool3d gradients equal to cpu through tf.grads and leaks no tensors', async () => {
    const xShape: Shape5 = [2, 5, 9, 7, 3];
    const wShape: Shape5 = [3, 3, 3, 3, 4];
    const grads = async (backend: string) => {
      await tf.setBackend(backend);
      const x = tf.tensor5d(randomValues(sizeOf(xShape), 5), xShape);
      const w = tf.tensor5d(randomValues(sizeOf(wShape), 6), wShape);
      const f = (xIn: tf.Tensor, wIn: tf.Tensor) => {
        const conv = tf.conv3d(xIn as tf.Tensor5D, wIn as tf.Tensor5D, [2, 2, 2], 'same');
        const pooled = tf.maxPool3d(tf.relu(conv), [3, 3, 3], [1, 2, 2], 'same');
        const averaged = tf.avgPool3d(pooled, [2, 2, 2], 1, 'valid');
        return tf.sum(tf.square(averaged));
      };
      const gradFn = tf.grads(f);
      const before = tf.memory().numTensors;
      for (let i = 0; i < 2; i++) tf.tidy(() => gradFn([x, w]).forEach((g) => g.dataSync()));
      const leaked = tf.memory().numTensors - before;
      const [gx, gw] = tf.tidy(() => gradFn([x, w]).map((g) => g.dataSync() as Float32Array));
      x.dispose();
      w.dispose();
      return { gx, gw, leaked };
    };
    const cpu = await grads('cpu');
    const wasm = await grads('wasm');
    expect(wasm.leaked).toBe(0);
    expect(maxAbsDiff(wasm.gx, cpu.gx)).toBeLessThanOrEqual(TOLERANCE * 10);
    expect(maxAbsDiff(wasm.gw, cpu.gw)).toBeLessThanOrEqual(TOLERANCE * 10);
  });
});
