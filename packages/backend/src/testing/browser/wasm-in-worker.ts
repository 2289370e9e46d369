// Runs in a dedicated Web Worker (where a page should train): initBackend on wasm with every
// core, then the kernel-module convolutions against the cpu backend. Posts what it measured.
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { initBackend, wasmThreadsInUse } from '../../browser.js';
import { simdModuleFor } from '../../kernels/simd/simd-module.js';
import { CONV_CASES, convOutputShape, relativeError, runKernelOn, type KernelCall } from '../../kernels/test-values.js';
import { ALL_LOADERS, WASM_PATHS } from './wasm-paths.js';

export interface WorkerReport {
  backend: string;
  threads: number;
  poolThreads: number | null;
  /** Worst relative error against cpu per kernel and case. */
  errors: { kernel: string; name: string; error: number }[];
  leaked: number;
}

/** The cases that run in the kernel module (NHWC, 8 output channels or more). */
const MODULE_CASES = CONV_CASES.filter((c) => (c.dataFormat ?? 'NHWC') === 'NHWC' && c.filter[3] % 8 === 0);

async function run(): Promise<WorkerReport> {
  const backend = await initBackend({ backend: 'wasm', loaders: ALL_LOADERS, wasmPaths: WASM_PATHS, log: false });
  const module = simdModuleFor(tf.backend() as never);
  const errors: WorkerReport['errors'] = [];
  const before = tf.memory().numTensors;
  for (const [i, c] of MODULE_CASES.entries()) {
    const calls: KernelCall[] = [
      { kernel: 'Conv2D', inputs: { x: c.x, filter: c.filter }, attrs: { strides: c.strides, pad: c.pad, dataFormat: 'NHWC', dilations: 1, dimRoundingMode: c.dimRoundingMode } },
      { kernel: 'Conv2DBackpropFilter', inputs: { x: c.x, dy: convOutputShape(c) }, attrs: { strides: c.strides, pad: c.pad, dataFormat: 'NHWC', dimRoundingMode: c.dimRoundingMode, filterShape: c.filter } },
    ];
    for (const call of calls) {
      const expected = await runKernelOn('cpu', call, 500 + i);
      const actual = await runKernelOn('wasm', call, 500 + i);
      errors.push({ kernel: call.kernel, name: c.name, error: relativeError(actual.values, expected.values) });
    }
  }
  return { backend, threads: wasmThreadsInUse(), poolThreads: module?.threads ?? null, errors, leaked: tf.memory().numTensors - before };
}

run().then(
  (report) => postMessage({ report }),
  (error: unknown) => postMessage({ error: error instanceof Error ? `${error.message}\n${error.stack}` : String(error) }),
);
