import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
// tfjs-core registers no gradients by itself; tfjs-layers (which every model uses) does.
import '@tensorflow/tfjs-layers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerWasmTrainingKernels, restoreStockWasmKernels } from './register-wasm.js';
import { FAST_WASM_KERNELS } from './fast-kernels.js';
import { FAST_GRADIENTS, registerFastGradients, restoreStockGradients } from './gradients.js';
import { BINARY_CASES, CONV_CASES, convOutputShape, randomValues, relativeError, runKernelOn, size, smallNetworkGradients, unaryValues, type KernelCall, type Pad } from './test-values.js';

/**
 * Every fast wasm kernel against the cpu backend. The error bound is relative to the largest
 * expected magnitude (sums over a batch grow with it): |wasm − cpu| ≤ 1e-4 · max(1, max|cpu|).
 */
const RELATIVE_TOLERANCE = 1e-4;


async function expectMatchesCpu(call: KernelCall, seed: number): Promise<void> {
  const expected = await runKernelOn('cpu', call, seed);
  const actual = await runKernelOn('wasm', call, seed);
  expect(actual.shape).toEqual(expected.shape);
  expect(relativeError(actual.values, expected.values)).toBeLessThanOrEqual(RELATIVE_TOLERANCE);
}

describe('fast wasm kernels match the cpu backend', () => {
  beforeAll(async () => {
    await tf.setBackend('wasm');
    registerWasmTrainingKernels();
  });

  it('replace the slow stock kernels and can be put back', () => {
    for (const config of FAST_WASM_KERNELS) expect(tf.getKernel(config.kernelName, 'wasm')?.kernelFunc).toBe(config.kernelFunc);
    expect(registerWasmTrainingKernels()).toEqual([]);
    const restored = restoreStockWasmKernels();
    expect(restored).toEqual(expect.arrayContaining(FAST_WASM_KERNELS.map((k) => k.kernelName)));
    for (const config of FAST_WASM_KERNELS) expect(tf.getKernel(config.kernelName, 'wasm')?.kernelFunc).not.toBe(config.kernelFunc);
    expect(registerWasmTrainingKernels().sort()).toEqual(restored.sort());
  });

  it('are left alone with { fast: false }', () => {
    restoreStockWasmKernels();
    expect(registerWasmTrainingKernels({ fast: false })).toEqual([]);
    for (const config of FAST_WASM_KERNELS) expect(tf.getKernel(config.kernelName, 'wasm')?.kernelFunc).not.toBe(config.kernelFunc);
    registerWasmTrainingKernels();
  });

  describe('Conv2DBackpropInput', () => {
    for (const [i, c] of CONV_CASES.entries()) {
      it(c.name, async () => {
        await expectMatchesCpu(
          {
            kernel: 'Conv2DBackpropInput',
            inputs: { dy: convOutputShape(c), filter: c.filter },
            attrs: { strides: c.strides, pad: c.pad, dataFormat: c.dataFormat ?? 'NHWC', dimRoundingMode: c.dimRoundingMode, inputShape: c.x },
          },
          100 + i,
        );
      });
    }
  });

  describe('Conv2DBackpropFilter', () => {
    for (const [i, c] of CONV_CASES.entries()) {
      it(c.name, async () => {
        await expectMatchesCpu(
          {
            kernel: 'Conv2DBackpropFilter',
            inputs: { x: c.x, dy: convOutputShape(c) },
            attrs: { strides: c.strides, pad: c.pad, dataFormat: c.dataFormat ?? 'NHWC', dimRoundingMode: c.dimRoundingMode, filterShape: c.filter },
          },
          200 + i,
        );
      });
    }
  });

  describe('MaxPoolGrad', () => {
    const POOL_CASES = [
      { name: '2x2 stride 2 (the benchmark layers)', x: [3, 8, 8, 5], filterSize: 2, strides: 2, pad: 'valid' as Pad },
      { name: '2x2 stride 2 odd size', x: [2, 7, 9, 3], filterSize: 2, strides: 2, pad: 'valid' as Pad },
      { name: '2x2 stride 2, 16 channels, odd width (SIMD kernel with a zeroed last column)', x: [2, 6, 11, 16], filterSize: 2, strides: 2, pad: 'valid' as Pad },
      { name: '3x3 stride 2 same (overlapping windows)', x: [2, 9, 9, 4], filterSize: 3, strides: 2, pad: 'same' as Pad },
      { name: '3x3 stride 1 explicit padding', x: [1, 6, 5, 2], filterSize: 3, strides: 1, pad: 1 as Pad },
    ];
    for (const [i, c] of POOL_CASES.entries()) {
      it(c.name, async () => {
        const info = tf.backend_util.computePool2DInfo(c.x as [number, number, number, number], c.filterSize, c.strides, 1, c.pad as never);
        // The forward output is recomputed on each backend so that dy lines up with its maxima.
        const call = (xValues: Float32Array): KernelCall => ({
          kernel: 'MaxPoolGrad',
          inputs: {
            dy: info.outShape,
            input: { shape: c.x, values: xValues },
            output: { shape: info.outShape, values: new Float32Array(size(info.outShape)) },
          },
          attrs: { filterSize: c.filterSize, strides: c.strides, pad: c.pad },
        });
        const x = randomValues(size(c.x), 300 + i);
        await expectMatchesCpu(call(x), 310 + i);
        // After ReLU whole windows are 0: the gradient goes to the first position, as on cpu.
        const relu = x.map((v) => (v > 0.5 ? v : 0));
        await expectMatchesCpu(call(relu), 320 + i);
      });
    }
  });

  describe('Tile', () => {
    const TILE_CASES = [
      { x: [1, 1, 1, 16], reps: [4, 5, 6, 1] },
      { x: [3, 1, 2], reps: [2, 4, 3] },
      { x: [5], reps: [7] },
      { x: [2, 3], reps: [1, 1] },
      { x: [2, 1, 3, 1], reps: [1, 3, 1, 2] },
    ];
    for (const [i, c] of TILE_CASES.entries()) {
      it(`${JSON.stringify(c.x)} × ${JSON.stringify(c.reps)}`, async () => {
        await expectMatchesCpu({ kernel: 'Tile', inputs: { x: c.x }, attrs: { reps: c.reps } }, 400 + i);
      });
    }
    it('int32', async () => {
      const values = Int32Array.from({ length: 6 }, (_, i) => i * 3 - 7);
      await expectMatchesCpu({ kernel: 'Tile', inputs: { x: { shape: [2, 3], values, dtype: 'int32' } }, attrs: { reps: [3, 2] } }, 410);
    });
  });

  describe('Sum and Mean', () => {
    const REDUCE_CASES = [
      { x: [64, 9, 9, 16], axis: [0, 1, 2], keepDims: false },
      { x: [64, 9, 9, 16], axis: [0, 1, 2], keepDims: true },
      { x: [8, 7, 7, 32], axis: [1, 2], keepDims: false },
      { x: [8, 7, 7, 32], axis: [2, 1], keepDims: true },
      { x: [5, 6, 7], axis: [0], keepDims: false },
      { x: [5, 6, 7], axis: [2], keepDims: false },
      { x: [5, 6, 7], axis: [0, 2], keepDims: false },
      { x: [4, 5], axis: [0, 1], keepDims: false },
      { x: [300, 1000, 3], axis: [0, 1], keepDims: false },
      { x: [2000, 3, 5], axis: [1], keepDims: false },
      { x: [3, 400, 2], axis: [1], keepDims: true },
    ];
    for (const kernel of ['Sum', 'Mean']) {
      for (const [i, c] of REDUCE_CASES.entries()) {
        it(`${kernel} ${JSON.stringify(c.x)} axis ${JSON.stringify(c.axis)}${c.keepDims ? ' keepDims' : ''}`, async () => {
          await expectMatchesCpu({ kernel, inputs: { x: c.x }, attrs: { axis: c.axis, keepDims: c.keepDims } }, 500 + i);
        });
      }
    }
  });

  describe('Add, Sub and Multiply (kernel module for large same-shape and row broadcasts)', () => {
    for (const kernel of ['Add', 'Sub', 'Multiply']) {
      for (const [i, c] of BINARY_CASES.entries()) {
        it(`${kernel} ${JSON.stringify(c.a)} and ${JSON.stringify(c.b)}`, async () => {
          await expectMatchesCpu({ kernel, inputs: { a: c.a, b: c.b }, attrs: {} }, 700 + i);
        });
      }
    }
    it('int32 stays on the stock kernel and stays exact', async () => {
      const a = { shape: [200, 100], values: Int32Array.from({ length: 20000 }, (_, i) => i - 7000), dtype: 'int32' as const };
      const b = { shape: [100], values: Int32Array.from({ length: 100 }, (_, i) => 3 * i), dtype: 'int32' as const };
      await expectMatchesCpu({ kernel: 'Multiply', inputs: { a, b }, attrs: {} }, 1);
    });
  });

  describe('Square and Step (kernel module for large tensors)', () => {
    for (const [kernel, attrs] of [['Square', {}], ['Step', { alpha: 0 }], ['Step', { alpha: 0.5 }]] as const) {
      for (const shape of [[16, 14, 14, 16], [40001]]) {
        it(`${kernel} ${JSON.stringify(attrs)} ${JSON.stringify(shape)} with zeros and NaN`, async () => {
          const values = unaryValues(size(shape), 800 + shape.length);
          const expected = await runKernelOn('cpu', { kernel, inputs: { x: { shape, values } }, attrs }, 0);
          const actual = await runKernelOn('wasm', { kernel, inputs: { x: { shape, values } }, attrs }, 0);
          expect(actual.shape).toEqual(expected.shape);
          // NaN must stay NaN where cpu gives NaN, and only there.
          expect(Array.from(actual.values, Number.isNaN)).toEqual(Array.from(expected.values, Number.isNaN));
          const finite = (v: Float32Array) => v.map((x) => (Number.isNaN(x) ? 0 : x));
          expect(relativeError(finite(actual.values), finite(expected.values))).toBeLessThanOrEqual(RELATIVE_TOLERANCE);
        });
      }
    }
  });

  describe('batch-norm sums in one pass (kernels of this package) match the tf ops on cpu', () => {
    const CASES = [
      { x: [64, 9, 9, 16], axes: [0, 1, 2] },
      { x: [300, 100, 3], axes: [0, 1] },
      { x: [20, 7, 7, 32], axes: [1, 2] },
      { x: [6, 5, 7], axes: [2] },
    ];
    // Each kernel and the tf-op formula it replaces.
    const KERNELS = {
      MmMeanSquaredDeviation: (x: tf.Tensor, dy: tf.Tensor, mean: tf.Tensor, axes: number[]) => tf.mean(tf.square(tf.sub(x, mean)), axes, true),
      MmSumCenteredProduct: (x: tf.Tensor, dy: tf.Tensor, mean: tf.Tensor, axes: number[]) => tf.sum(tf.mul(dy, tf.sub(x, mean)), axes, true),
    };
    for (const [kernel, formula] of Object.entries(KERNELS)) {
      for (const [i, c] of CASES.entries()) {
        it(`${kernel} ${JSON.stringify(c.x)} over ${JSON.stringify(c.axes)}${c.axes.includes(c.x.length - 1) ? ' (stock kernels)' : ''}`, async () => {
          const xValues = randomValues(size(c.x), 1100 + i).map((v) => 3 * v + 2);
          const dyValues = randomValues(size(c.x), 1200 + i);
          const compute = async (backend: string) => {
            await tf.setBackend(backend);
            return tf.tidy(() => {
              const x = tf.tensor(xValues, c.x);
              const dy = tf.tensor(dyValues, c.x);
              const mean = tf.mean(x, c.axes, true);
              const out =
                backend === 'wasm'
                  ? (tf.engine().runKernel(kernel, { x, dy, mean }, { axes: c.axes } as never) as tf.Tensor)
                  : formula(x, dy, mean, c.axes);
              return { shape: out.shape, values: Float32Array.from(out.dataSync() as Float32Array) };
            });
          };
          const expected = await compute('cpu');
          const actual = await compute('wasm');
          expect(actual.shape).toEqual(expected.shape);
          expect(relativeError(actual.values, expected.values)).toBeLessThanOrEqual(RELATIVE_TOLERANCE);
        });
      }
    }
  });

  describe('BatchMatMul (kernel module, or transposed operands copied first)', () => {
    const MATMUL_CASES = [
      { a: [33, 17], b: [17, 9], transposeA: false, transposeB: false },
      { a: [17, 33], b: [17, 9], transposeA: true, transposeB: false },
      { a: [33, 17], b: [9, 17], transposeA: false, transposeB: true },
      { a: [17, 33], b: [9, 17], transposeA: true, transposeB: true },
      { a: [4, 6, 5], b: [4, 7, 6], transposeA: true, transposeB: true },
      { a: [3, 5, 6], b: [1, 7, 6], transposeA: false, transposeB: true },
      { a: [128, 128], b: [128, 10], transposeA: true, transposeB: false },
      // N a multiple of 8: the kernel module (plain, transposed operands, batches, K < 8, partial row tiles).
      { a: [33, 17], b: [17, 16], transposeA: false, transposeB: false },
      { a: [17, 33], b: [17, 24], transposeA: true, transposeB: false },
      { a: [33, 17], b: [16, 17], transposeA: false, transposeB: true },
      { a: [17, 33], b: [16, 17], transposeA: true, transposeB: true },
      { a: [4, 5, 6], b: [4, 6, 8], transposeA: false, transposeB: false },
      { a: [10, 3], b: [3, 8], transposeA: false, transposeB: false },
      { a: [128, 128], b: [128, 128], transposeA: false, transposeB: false },
      { a: [128, 64], b: [128, 32], transposeA: true, transposeB: false },
    ];
    for (const [i, c] of MATMUL_CASES.entries()) {
      it(`${JSON.stringify(c.a)}${c.transposeA ? 'ᵀ' : ''} × ${JSON.stringify(c.b)}${c.transposeB ? 'ᵀ' : ''}`, async () => {
        await expectMatchesCpu({ kernel: 'BatchMatMul', inputs: { a: c.a, b: c.b }, attrs: { transposeA: c.transposeA, transposeB: c.transposeB } }, 800 + i);
      });
    }
  });

  describe('FusedBatchNorm', () => {
    const C = 6;
    const positive = (n: number, seed: number) => ({ shape: [n], values: randomValues(n, seed).map((v) => v + 1.5) });
    const BN_CASES: { name: string; inputs: KernelCall['inputs'] }[] = [
      { name: 'NHWC with scale and offset', inputs: { x: [4, 5, 3, C], mean: [C], variance: positive(C, 1), offset: [C], scale: [C] } },
      { name: 'no scale, no offset', inputs: { x: [2, 3, 3, C], mean: [C], variance: positive(C, 2) } },
      { name: 'statistics of shape [1, 1, 1, C]', inputs: { x: [2, 3, 3, C], mean: [1, 1, 1, C], variance: { shape: [1, 1, 1, C], values: randomValues(C, 3).map((v) => v + 1.5) }, scale: [1, 1, 1, C] } },
      { name: 'scalar-sized statistics on 2-D x', inputs: { x: [7, C], mean: [1], variance: positive(1, 4), offset: [1] } },
      { name: 'statistics over another axis (stock kernel)', inputs: { x: [C, 4], mean: [C, 1], variance: { shape: [C, 1], values: randomValues(C, 5).map((v) => v + 1.5) } } },
    ];
    for (const [i, c] of BN_CASES.entries()) {
      it(c.name, async () => {
        await expectMatchesCpu({ kernel: 'FusedBatchNorm', inputs: c.inputs, attrs: { varianceEpsilon: 1e-3 } }, 900 + 10 * i);
      });
    }
  });

  describe('Sum and Mean gradients (Tile instead of multiplying by ones)', () => {
    const CASES = [
      { x: [6, 5, 5, 4], axis: [0, 1, 2] },
      { x: [6, 5, 5, 4], axis: [1, 2] },
      { x: [3, 7], axis: [1] },
      { x: [3, 7], axis: [0, 1] },
    ];
    for (const backend of ['cpu', 'wasm']) {
      for (const [i, c] of CASES.entries()) {
        it(`${backend} ${JSON.stringify(c.x)} axis ${JSON.stringify(c.axis)}: identical to tfjs-core's`, async () => {
          await tf.setBackend(backend);
          const x = tf.tensor(randomValues(size(c.x), 600 + i), c.x);
          const weights = tf.tensor(randomValues(size(c.x), 610 + i), c.x);
          // A non-uniform upstream gradient, so that dy's broadcast is actually checked.
          const f = (t: tf.Tensor) => tf.add(tf.sum(tf.square(tf.sum(tf.mul(t, weights), c.axis))), tf.sum(tf.square(tf.mean(t, c.axis, true))));
          restoreStockGradients();
          const stock = tf.tidy(() => Float32Array.from(tf.grad(f)(x).dataSync() as Float32Array));
          expect(registerFastGradients().sort()).toEqual(FAST_GRADIENTS.map((g) => g.kernelName).sort());
          const before = tf.memory().numTensors;
          const fast = tf.tidy(() => Float32Array.from(tf.grad(f)(x).dataSync() as Float32Array));
          expect(tf.memory().numTensors).toBe(before);
          expect(Array.from(fast)).toEqual(Array.from(stock));
          x.dispose();
          weights.dispose();
        });
      }
    }
  });

  describe('FusedBatchNorm gradient (five passes instead of fourteen)', () => {
    const BN_GRAD_CASES = [
      { x: [4, 5, 3, 6], stats: [6], scale: true, offset: true },
      { x: [4, 5, 3, 6], stats: [1, 1, 1, 6], scale: true, offset: true },
      // No `scale` case: tfjs-core's own FusedBatchNorm gradient saves `scale` too and cannot
      // record a batch norm without one either (the engine clones the missing input).
      { x: [7, 6], stats: [6], scale: true, offset: true },
      { x: [6, 4], stats: [6, 1], scale: true, offset: true },
    ];
    for (const backend of ['cpu', 'wasm']) {
      for (const [i, c] of BN_GRAD_CASES.entries()) {
        it(`${backend} x ${JSON.stringify(c.x)}, statistics ${JSON.stringify(c.stats)}${c.scale ? '' : ', no scale'}${c.offset ? '' : ', no offset'}: matches the gradient of the formula within 1e-5`, async () => {
          await tf.setBackend(backend);
          registerFastGradients();
          const x = tf.tensor(randomValues(size(c.x), 1000 + i), c.x);
          const mean = tf.tensor(randomValues(size(c.stats), 1010 + i), c.stats);
          const variance = tf.tensor(randomValues(size(c.stats), 1020 + i).map((v) => v + 1.2), c.stats);
          const offset = tf.tensor(randomValues(size(c.stats), 1030 + i), c.stats);
          const scale = tf.tensor(randomValues(size(c.stats), 1040 + i), c.stats);
          const upstream = tf.tensor(randomValues(size(c.x), 1050 + i), c.x);
          const names = ['x', 'mean', 'variance', ...(c.offset ? ['offset'] : []), ...(c.scale ? ['scale'] : [])];
          const inputs = [x, mean, variance, ...(c.offset ? [offset] : []), ...(c.scale ? [scale] : [])];
          const unpack = (t: tf.Tensor[]) => ({ xv: t[0], m: t[1], v: t[2], o: c.offset ? t[3] : undefined, s: c.scale ? t[c.offset ? 4 : 3] : undefined });
          // The kernel whose gradient is under test…
          const fused = (...t: tf.Tensor[]) => {
            const { xv, m, v, o, s } = unpack(t);
            return tf.sum(tf.mul(upstream, tf.batchNorm(xv, m, v, o, s, 1e-3)));
          };
          // …and the same formula in elementary ops, differentiated op by op.
          const formula = (...t: tf.Tensor[]) => {
            const { xv, m, v, o, s } = unpack(t);
            let y = tf.mul(tf.sub(xv, m), tf.rsqrt(tf.add(v, 1e-3)));
            if (s) y = tf.mul(y, s);
            if (o) y = tf.add(y, o);
            return tf.sum(tf.mul(upstream, y));
          };
          const grads = (f: (...t: tf.Tensor[]) => tf.Tensor) =>
            tf.tidy(() => tf.grads(f)(inputs).map((g) => Float32Array.from(g.dataSync() as Float32Array)));
          const expected = grads(formula);
          const before = tf.memory().numTensors;
          const actual = grads(fused);
          expect(tf.memory().numTensors).toBe(before);
          for (const [k, g] of actual.entries()) expect(relativeError(g, expected[k]), names[k]).toBeLessThanOrEqual(1e-5);
          tf.dispose([x, mean, variance, offset, scale, upstream]);
        });
      }
    }
  });

  describe('Cast', () => {
    const CASTS: { from: 'float32' | 'int32'; to: string }[] = [
      { from: 'float32', to: 'float32' },
      { from: 'float32', to: 'int32' },
      { from: 'int32', to: 'float32' },
      { from: 'int32', to: 'int32' },
    ];
    for (const [i, c] of CASTS.entries()) {
      it(`${c.from} → ${c.to}`, async () => {
        const values = c.from === 'int32' ? Int32Array.from({ length: 24 }, (_, k) => k * 7 - 80) : randomValues(24, 700 + i).map((v) => v * 5);
        await expectMatchesCpu({ kernel: 'Cast', inputs: { x: { shape: [2, 3, 4], values, dtype: c.from } }, attrs: { dtype: c.to } }, 700 + i);
      });
    }
    it('a same-dtype Cast outlives its disposed input', async () => {
      await tf.setBackend('wasm');
      const before = tf.memory().numTensors;
      const x = tf.tensor([1.5, -2, 3], [3]);
      const y = tf.cast(x, 'float32');
      x.dispose();
      expect(Array.from(y.dataSync())).toEqual([1.5, -2, 3]);
      y.dispose();
      expect(tf.memory().numTensors).toBe(before);
    });
  });

  it('Identity shares the buffer safely: disposing either side keeps the other readable', async () => {
    await tf.setBackend('wasm');
    const before = tf.memory().numTensors;
    const x = tf.tensor([1, 2, 3, 4], [2, 2]);
    const y = tf.engine().runKernel('Identity', { x }) as tf.Tensor;
    x.dispose();
    expect(Array.from(y.dataSync())).toEqual([1, 2, 3, 4]);
    y.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('train a small conv/BN/pool network like cpu does, without leaking tensors', async () => {
    const cpu = await smallNetworkGradients('cpu');
    const wasm = await smallNetworkGradients('wasm');
    expect(wasm.leaked).toBe(0);
    for (let i = 0; i < cpu.grads.length; i++) {
      expect(relativeError(wasm.grads[i], cpu.grads[i])).toBeLessThanOrEqual(RELATIVE_TOLERANCE * 10);
    }
  });

  afterAll(async () => {
    await tf.setBackend('wasm');
  });
});
