// The one-pass ReLU gradient's tests, run by relu-gradient.test.ts (1 wasm thread) and
// relu-gradient-threads.test.ts (2 threads: the pass split across the pool).
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
// tfjs-core registers no gradients by itself; tfjs-layers (which every model uses) does.
import '@tensorflow/tfjs-layers';
import { describe, expect, it } from 'vitest';
import { registerFastGradients, restoreStockGradients } from '../kernels/gradients.js';
import { RELU_GRAD } from '../kernels/relu-gradient.js';
import { randomValues, relativeError, unaryValues } from '../kernels/test-values.js';

/** cpu and wasm both round the one product to float32: the bound only guards against a wrong formula. */
const CPU_TOLERANCE = 1e-6;

/** Odd sizes: a tiny one (scalar tail only) and one large enough to be split across a pool. */
const SHAPES = [[37], [3, 29, 31, 19]];

interface ReluGrad {
  values: Float32Array;
  kernels: string[];
}

/** dx of Σ relu(x)·w, x with zeros, ±values and NaN mixed in, w (= dy) with negatives, on the current backend. */
async function reluInputGradient(shape: number[], seed: number): Promise<ReluGrad> {
  const size = shape.reduce((n, d) => n * d, 1);
  const x = tf.tensor(unaryValues(size, seed), shape);
  const w = tf.tensor(randomValues(size, seed + 1), shape);
  let values: Float32Array = new Float32Array(0);
  const info = await tf.profile(() => {
    values = tf.tidy(() => tf.grad((input: tf.Tensor) => tf.sum(tf.mul(tf.relu(input), w)))(x).dataSync() as Float32Array);
  });
  tf.dispose([x, w]);
  return { values, kernels: info.kernelNames };
}

/** Bit patterns, with every NaN read as one (engines may differ in a NaN's payload). */
function bits(values: Float32Array): number[] {
  const words = new Uint32Array(values.buffer, values.byteOffset, values.length);
  return Array.from(values, (v, i) => (Number.isNaN(v) ? 0x7fc00000 : words[i]));
}

/** Registers the suite; the test file has set up the wasm backend with `threads` threads and the fast kernels. */
export function describeReluGradient(threads: number): void {
  describe(`one-pass ReLU gradient on wasm (${threads} thread${threads > 1 ? 's' : ''})`, () => {
    for (const [i, shape] of SHAPES.entries()) {
      it(`[${shape.join(', ')}]: the same bits as tfjs-core's Step · Multiply, in one kernel`, async () => {
        const onePass = await reluInputGradient(shape, 10 + i);
        restoreStockGradients();
        let stock: ReluGrad;
        try {
          stock = await reluInputGradient(shape, 10 + i);
        } finally {
          registerFastGradients();
        }
        expect(onePass.kernels).toContain(RELU_GRAD);
        expect(onePass.kernels).not.toContain('Step');
        expect(stock.kernels).toContain('Step');
        expect(bits(onePass.values)).toEqual(bits(stock.values));
        // The edge cases are really there: NaN propagates, and some dy·0 are −0.
        expect(onePass.values.some(Number.isNaN)).toBe(true);
        expect(onePass.values.some((v) => Object.is(v, -0))).toBe(true);
      });

      it(`[${shape.join(', ')}]: matches the cpu backend`, async () => {
        const onWasm = await reluInputGradient(shape, 20 + i);
        await tf.setBackend('cpu');
        let onCpu: ReluGrad;
        try {
          onCpu = await reluInputGradient(shape, 20 + i);
        } finally {
          await tf.setBackend('wasm');
        }
        const nanAt = (v: Float32Array) => Array.from(v, Number.isNaN);
        expect(nanAt(onWasm.values)).toEqual(nanAt(onCpu.values));
        const finite = (v: Float32Array) => v.map((e) => (Number.isNaN(e) ? 0 : e));
        expect(relativeError(finite(onWasm.values), finite(onCpu.values))).toBeLessThanOrEqual(CPU_TOLERANCE);
      });
    }

    it('keeps the tensor count constant across gradient evaluations', () => {
      const x = tf.tensor(unaryValues(4000, 5), [40, 100]);
      const f = tf.grad((input: tf.Tensor) => tf.sum(tf.relu(input)));
      tf.tidy(() => f(x));
      const before = tf.memory().numTensors;
      for (let i = 0; i < 5; i++) tf.tidy(() => f(x).dataSync());
      expect(tf.memory().numTensors).toBe(before);
      x.dispose();
    });
  });
}
