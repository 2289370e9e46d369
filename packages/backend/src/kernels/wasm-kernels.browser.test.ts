import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
// tfjs-core registers no gradients by itself; tfjs-layers (which every model uses) does.
import '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../browser.js';
import { simdModuleFor } from './simd/simd-module.js';
import { CONV_CASES, convOutputShape, relativeError, runKernelOn, smallNetworkGradients, type KernelCall } from './test-values.js';
import { ALL_LOADERS, WASM_PATHS } from '../testing/browser/wasm-paths.js';
import type { WorkerReport } from '../testing/browser/wasm-in-worker.js';

/** The Node tests' bound: |wasm − cpu| ≤ 1e-4 · max(1, max|cpu|). */
const RELATIVE_TOLERANCE = 1e-4;

async function expectMatchesCpu(call: KernelCall, seed: number): Promise<void> {
  const expected = await runKernelOn('cpu', call, seed);
  const actual = await runKernelOn('wasm', call, seed);
  expect(actual.shape).toEqual(expected.shape);
  expect(relativeError(actual.values, expected.values)).toBeLessThanOrEqual(RELATIVE_TOLERANCE);
}

describe('wasm training kernels in a browser page, against the cpu backend', () => {
  beforeAll(async () => {
    await initBackend({ backend: 'wasm', loaders: ALL_LOADERS, wasmPaths: WASM_PATHS, log: false });
  });

  it('run in the relaxed-SIMD kernel module, on the page thread alone (a page may not block)', () => {
    const module = simdModuleFor(tf.backend() as never);
    expect(module).not.toBeNull();
    expect(module?.relaxed).toBe(true);
    expect(module?.threads).toBe(1);
  });

  describe('Conv2DBackpropFilter (missing from tfjs-backend-wasm)', () => {
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

  it('train a small conv/BN/pool network like cpu does, without leaking tensors', async () => {
    const cpu = await smallNetworkGradients('cpu');
    const wasm = await smallNetworkGradients('wasm');
    expect(wasm.leaked).toBe(0);
    for (let i = 0; i < cpu.grads.length; i++) {
      expect(relativeError(wasm.grads[i], cpu.grads[i])).toBeLessThanOrEqual(RELATIVE_TOLERANCE * 10);
    }
  });

  it('in a Web Worker, run the kernel module on every core and still match cpu', async () => {
    const worker = new Worker(new URL('../testing/browser/wasm-in-worker.ts', import.meta.url), { type: 'module' });
    const message = await new Promise<{ report?: WorkerReport; error?: string }>((resolve, reject) => {
      worker.onmessage = (event) => resolve(event.data);
      worker.onerror = (event) => reject(new Error(`worker failed: ${event.message}`));
    });
    worker.terminate();
    expect(message.error).toBeUndefined();
    const report = message.report!;
    const threads = Math.min(navigator.hardwareConcurrency, 8);
    expect(report.backend).toBe('wasm');
    expect(report.threads).toBe(threads);
    expect(report.poolThreads).toBe(threads);
    expect(report.errors.length).toBeGreaterThan(0);
    for (const { kernel, name, error } of report.errors) expect(error, `${kernel} ${name}`).toBeLessThanOrEqual(RELATIVE_TOLERANCE);
    expect(report.leaked).toBe(0);
  });
});
