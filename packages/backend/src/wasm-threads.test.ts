import { spawnSync } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as tfl from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend, wasmThreadsInUse } from './index.js';
import { resolveWasmThreads } from './wasm-threads.js';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { simdModuleFor } from './kernels/simd/simd-module.js';
import { BINARY_CASES, CONV_CASES, convOutputShape, randomValues, relativeError, runKernelOn, type KernelCall } from './kernels/test-values.js';

/** Same bound as the single-threaded kernel tests: |wasm − cpu| ≤ 1e-4 · max(1, max|cpu|). */
const RELATIVE_TOLERANCE = 1e-4;

describe('resolveWasmThreads', () => {
  it('takes the option, then MM_WASM_THREADS, then one per core, capped at 8', () => {
    expect(resolveWasmThreads(3, { MM_WASM_THREADS: '1' })).toBe(3);
    expect(resolveWasmThreads(undefined, { MM_WASM_THREADS: ' 2 ' })).toBe(2);
    expect(resolveWasmThreads(undefined, {})).toBe(Math.min(availableParallelism(), 8));
    expect(resolveWasmThreads(64, {})).toBe(8);
  });

  it('rejects what is not a positive integer, naming the variable', () => {
    expect(() => resolveWasmThreads(undefined, { MM_WASM_THREADS: 'two' })).toThrow(/MM_WASM_THREADS=two is not a thread count/);
    expect(() => resolveWasmThreads(undefined, { MM_WASM_THREADS: '0' })).toThrow(/positive integer/);
    expect(() => resolveWasmThreads(1.5, {})).toThrow(/positive integer/);
  });
});

describe('threaded wasm backend', () => {
  const lines: string[] = [];
  beforeAll(async () => {
    await initBackend({ backend: 'wasm', threads: 2, env: {}, log: (m) => lines.push(m) });
  });

  it('runs tfjs-backend-wasm on a pool of 2 threads and says so', () => {
    expect(tf.getBackend()).toBe('wasm');
    expect(wasmThreadsInUse()).toBe(2);
    expect(lines[0]).toMatch(/using wasm \(forced by option, 2 threads\)/);
  });

  it('splits the convolution module across the same 2 threads, on the shared heap', () => {
    const module = simdModuleFor(tf.backend() as BackendWasm);
    expect(module?.threads).toBe(2);
  });

  it('keeps its thread count once the backend exists, and says why', async () => {
    const again: string[] = [];
    await initBackend({ backend: 'wasm', threads: 3, env: {}, log: (m) => again.push(m) });
    expect(wasmThreadsInUse()).toBe(2);
    expect(again[0]).toMatch(/2 threads, single-threaded: this process already runs wasm with 2 threads/);
  });

  for (const [kernel, seed] of [['Conv2D', 100], ['Conv2DBackpropInput', 200], ['Conv2DBackpropFilter', 300]] as const) {
    describe(`${kernel} matches the cpu backend`, () => {
      // Stock wasm Conv2D (single-threaded too) leaves the extra output row of numeric padding
      // with 'ceil' rounding at zero; tf.layers never asks for that combination.
      const cases = CONV_CASES.filter((c) => c.dataFormat !== 'NCHW' && !(kernel === 'Conv2D' && c.dimRoundingMode === 'ceil'));
      for (const [i, c] of cases.entries()) {
        it(c.name, async () => {
          const attrs = { strides: c.strides, pad: c.pad, dataFormat: 'NHWC', dimRoundingMode: c.dimRoundingMode };
          const call: KernelCall =
            kernel === 'Conv2D'
              ? { kernel, inputs: { x: c.x, filter: c.filter }, attrs: { ...attrs, dilations: 1 } }
              : kernel === 'Conv2DBackpropInput'
                ? { kernel, inputs: { dy: convOutputShape(c), filter: c.filter }, attrs: { ...attrs, inputShape: c.x } }
                : { kernel, inputs: { x: c.x, dy: convOutputShape(c) }, attrs: { ...attrs, filterShape: c.filter } };
          const expected = await runKernelOn('cpu', call, seed + i);
          const actual = await runKernelOn('wasm', call, seed + i);
          expect(actual.shape).toEqual(expected.shape);
          expect(relativeError(actual.values, expected.values)).toBeLessThanOrEqual(RELATIVE_TOLERANCE);
        });
      }
    });
  }

  describe('element-wise kernels and reductions of the kernel module, split across 2 threads, match the cpu backend', () => {
    const expectMatchesCpu = async (call: KernelCall, seed: number) => {
      const expected = await runKernelOn('cpu', call, seed);
      const actual = await runKernelOn('wasm', call, seed);
      expect(actual.shape).toEqual(expected.shape);
      expect(relativeError(actual.values, expected.values)).toBeLessThanOrEqual(RELATIVE_TOLERANCE);
    };
    for (const kernel of ['Add', 'Sub', 'Multiply']) {
      for (const [i, c] of BINARY_CASES.entries()) {
        it(`${kernel} ${JSON.stringify(c.a)} and ${JSON.stringify(c.b)}`, () => expectMatchesCpu({ kernel, inputs: { a: c.a, b: c.b }, attrs: {} }, 900 + i));
      }
    }
    it('BatchMatMul through the module (plain and transposed)', async () => {
      await expectMatchesCpu({ kernel: 'BatchMatMul', inputs: { a: [130, 40], b: [40, 64] }, attrs: { transposeA: false, transposeB: false } }, 940);
      await expectMatchesCpu({ kernel: 'BatchMatMul', inputs: { a: [40, 130], b: [64, 40] }, attrs: { transposeA: true, transposeB: true } }, 941);
    });
    it('Square and Step', async () => {
      await expectMatchesCpu({ kernel: 'Square', inputs: { x: [16, 14, 14, 17] }, attrs: {} }, 950);
      await expectMatchesCpu({ kernel: 'Step', inputs: { x: [16, 14, 14, 17] }, attrs: { alpha: 0 } }, 951);
    });
    // One output row (the reduced axis is split, partial sums added) and many (rows split).
    for (const [x, axis] of [[[64, 9, 9, 16], [0, 1, 2]], [[300, 1000, 3], [0, 1]], [[2000, 3, 5], [1]], [[64, 7, 7, 128], [1, 2]]] as const) {
      for (const kernel of ['Sum', 'Mean']) {
        it(`${kernel} ${JSON.stringify(x)} axis ${JSON.stringify(axis)}`, () =>
          expectMatchesCpu({ kernel, inputs: { x: [...x] }, attrs: { axis: [...axis], keepDims: false } }, 960));
      }
    }
  });

  it('trains a conv net like the cpu backend and frees every step', async () => {
    const inputs = tf.tensor4d(randomValues(16 * 14 * 14 * 3, 5), [16, 14, 14, 3]);
    const labels = tf.oneHot(tf.tensor1d(Array.from({ length: 16 }, (_, k) => k % 4), 'int32'), 4);
    const buildModel = () => {
      const model = tfl.sequential({
        layers: [
          tfl.layers.conv2d({ inputShape: [14, 14, 3], filters: 8, kernelSize: 3, padding: 'same', kernelInitializer: tfl.initializers.glorotUniform({ seed: 1 }) }),
          tfl.layers.batchNormalization(),
          tfl.layers.activation({ activation: 'relu' }),
          tfl.layers.maxPooling2d({ poolSize: 2 }),
          tfl.layers.conv2d({ filters: 16, kernelSize: 3, strides: 2, padding: 'same', kernelInitializer: tfl.initializers.glorotUniform({ seed: 2 }) }),
          tfl.layers.globalAveragePooling2d({}),
          tfl.layers.dense({ units: 4, kernelInitializer: tfl.initializers.glorotUniform({ seed: 3 }) }),
        ],
      });
      return model;
    };
    const train = async (backend: string): Promise<{ losses: number[]; weights: Float32Array[] }> => {
      await tf.setBackend(backend);
      const x = tf.tensor(inputs.dataSync(), inputs.shape);
      const y = tf.tensor(labels.dataSync(), labels.shape);
      const model = buildModel();
      const optimizer = tf.train.momentum(0.05, 0.9);
      const losses: number[] = [];
      let tensorsAfterFirst = 0;
      for (let step = 0; step < 4; step++) {
        const loss = optimizer.minimize(() => tf.mean(tfl.metrics.categoricalCrossentropy(y, tf.softmax(model.apply(x, { training: true }) as tf.Tensor))) as tf.Scalar, true)!;
        losses.push(loss.dataSync()[0]);
        loss.dispose();
        if (step === 0) tensorsAfterFirst = tf.memory().numTensors;
      }
      // Momentum slots are created in step 1; after that nothing may accumulate.
      expect(tf.memory().numTensors).toBe(tensorsAfterFirst);
      const weights = model.getWeights().map((w) => Float32Array.from(w.dataSync() as Float32Array));
      model.dispose();
      optimizer.dispose();
      tf.dispose([x, y]);
      return { losses, weights };
    };
    const cpu = await train('cpu');
    const wasm = await train('wasm');
    expect(wasm.losses[3]).toBeLessThan(wasm.losses[0]);
    for (const [k, loss] of wasm.losses.entries()) expect(Math.abs(loss - cpu.losses[k])).toBeLessThanOrEqual(1e-4 * Math.max(1, cpu.losses[k]));
    for (const [k, w] of wasm.weights.entries()) expect(relativeError(w, cpu.weights[k])).toBeLessThanOrEqual(1e-4);
    tf.dispose([inputs, labels]);
  });
});

describe('a Node process with threaded wasm', () => {
  it('exits by itself when its work is done (pool threads do not hold it open)', () => {
    const packageDir = dirname(dirname(fileURLToPath(import.meta.url)));
    const result = spawnSync(process.execPath, ['--conditions=@mm/source', '--import', 'tsx', 'src/testing/threaded-exit.ts'], {
      cwd: packageDir,
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(result.error).toBeUndefined();
    expect(result.status, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout.trim())).toEqual({ threads: 2, centre: 27 });
  });
});
