import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import * as tfl from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { host } from '#kernel-host';
import { FunctionPatch } from './kernels/function-patch.js';
import { FAST_WASM_KERNELS } from './kernels/fast-kernels.js';
import { conv3DCorrectedWasmKernels, conv3DFastWasmKernels } from './kernels/conv3d-wasm.js';
import { heapByteOffset } from './kernels/wasm-util.js';
import { webAssembly } from './kernels/simd/webassembly.js';
import {
  BACKEND_WASM_ENTRY_POINTS,
  emscriptenModule,
  fusedNamespace,
  momentumOptimizerInternals,
  recordingGradients,
  sgdOptimizerInternals,
  THREADED_BUILD_FILES,
  wasmHeapBuffer,
  wasmHeapMemory,
} from './tfjs-internals.js';

// Each test checks one assumption listed in tfjs-internals.ts against the installed tfjs; its
// name says which, so a failure after a tfjs upgrade points at the code to revisit.

const require = createRequire(import.meta.url);
const wasmPackageDir = dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json'));

// Captured before anything of this package is registered: the stock registry as tfjs-backend-wasm leaves it.
const stockKernelNames = new Set(tf.getKernelsForBackend('wasm').map((k) => k.kernelName));

describe('tfjs internals this package relies on (a failure names what a tfjs upgrade changed)', () => {
  let backend: BackendWasm;
  beforeAll(async () => {
    await tf.setBackend('wasm');
    backend = tf.backend() as BackendWasm;
  });

  it('1. BackendWasm.wasm.HEAPU8 views the heap that getMemoryOffset points into', () => {
    const t = tf.tensor1d([1.5, -2, 3.25, 7]);
    const info = { dataId: t.dataId, shape: t.shape, dtype: t.dtype };
    const at = heapByteOffset(backend, info);
    expect(Array.from(new Float32Array(wasmHeapBuffer(backend), at, 4))).toEqual([1.5, -2, 3.25, 7]);
    t.dispose();
  });

  it('1. the Emscripten module holds its WebAssembly.Memory as wasmMemory or asm.memory, the same buffer as HEAPU8', () => {
    const memory = wasmHeapMemory(backend);
    expect(memory, 'neither module.wasmMemory nor module.asm.memory is set: the kernel module cannot find tfjs heap').toBeInstanceOf(webAssembly.Memory);
    expect(memory!.buffer).toBe(wasmHeapBuffer(backend));
  });

  it('2. BackendWasm reads module.HEAPU8 on each access (so the getter heap-view.ts installs is what it sees)', () => {
    expect(BackendWasm.prototype.typedArrayFromHeap.toString()).toMatch(/\.wasm\.HEAPU8/);
    expect(emscriptenModule(backend).HEAPU8).toBeInstanceOf(Uint8Array);
  });

  it('3. engine().state.gradientDepth is > 0 exactly while tfjs records gradients', () => {
    expect(recordingGradients()).toBe(false);
    let inside: boolean | undefined;
    tf.grad((x: tf.Tensor) => {
      inside = recordingGradients();
      return tf.square(x);
    })(tf.scalar(2)).dispose();
    expect(inside).toBe(true);
  });

  it('4. tfjs-layers calls fused.conv2d through the writable `fused` namespace at call time', () => {
    let calls = 0;
    const patch: FunctionPatch<(args: never) => tf.Tensor> = new FunctionPatch(fusedNamespace, 'conv2d', (args: never) => {
      calls++;
      return patch.stock(args);
    });
    const layer = tfl.layers.conv2d({ filters: 2, kernelSize: 1, inputShape: [2, 2, 1] });
    const installed = patch.install();
    try {
      expect(installed, 'tf.fused.conv2d could not be replaced').toBe(true);
      tf.tidy(() => layer.apply(tf.ones([1, 2, 2, 1])) as tf.Tensor);
      expect(calls, 'tfjs-layers no longer calls tf.fused.conv2d by name').toBeGreaterThan(0);
    } finally {
      patch.restore();
      layer.dispose();
    }
  });

  it('4. tfjs-layers calls moments through tfjs-core\'s CommonJS exports, which are writable in Node', () => {
    let calls = 0;
    const patch: FunctionPatch<typeof tf.moments> = new FunctionPatch(host.tfjsCoreExports, 'moments', (...args: Parameters<typeof tf.moments>) => {
      calls++;
      return patch.stock(...args);
    });
    const layer = tfl.layers.batchNormalization({ inputShape: [2, 2, 3] });
    const installed = patch.install();
    try {
      expect(installed, "tfjs-core's exports object could not be patched (moments)").toBe(true);
      tf.tidy(() => layer.apply(tf.ones([2, 2, 2, 3]), { training: true }) as tf.Tensor);
      expect(calls, 'tfjs-layers BatchNormalization no longer calls tfjs-core moments by name').toBeGreaterThan(0);
    } finally {
      patch.restore();
      layer.dispose();
    }
  });

  it('5. tfjs-backend-wasm registers a stock kernel for every name replaced here, and no Conv2DBackpropFilter', () => {
    const replaced = [...FAST_WASM_KERNELS, ...conv3DCorrectedWasmKernels, ...conv3DFastWasmKernels]
      .map((k) => k.kernelName)
      .filter((name) => !name.startsWith('Mm'));
    const missing = replaced.filter((name) => !stockKernelNames.has(name));
    expect(missing, 'no stock kernel to fall back to / restore for these').toEqual([]);
    expect(stockKernelNames.has('Conv2DBackpropFilter'), 'tfjs-backend-wasm now has Conv2DBackpropFilter: ours is no longer registered; check it').toBe(false);
  });

  it('6. the threaded build: its files, the worker script string, the C entry points and the pool fields', () => {
    for (const file of Object.values(THREADED_BUILD_FILES)) expect(existsSync(join(wasmPackageDir, file)), file).toBe(true);
    const worker = require(join(wasmPackageDir, THREADED_BUILD_FILES.worker)) as { wasmWorkerContents?: unknown };
    expect(typeof worker.wasmWorkerContents, 'the worker module no longer exports wasmWorkerContents').toBe('string');
    const glue = readFileSync(join(wasmPackageDir, THREADED_BUILD_FILES.glue), 'utf8');
    for (const [name] of Object.values(BACKEND_WASM_ENTRY_POINTS)) expect(glue, `C entry point ${name}`).toContain(`Module["_${name}"]`);
    expect(glue, 'the glue keeps its pool threads in PThread.runningWorkers').toMatch(/runningWorkers/);
    expect(glue, 'the Node glue sizes its pool from os.cpus().length').toMatch(/cpus\(\)\.length/);
    const browserBundle = readFileSync(join(wasmPackageDir, 'dist', 'tf-backend-wasm.fesm.js'), 'utf8');
    expect(browserBundle, 'the browser build sizes its pool from navigator.hardwareConcurrency').toMatch(/hardwareConcurrency/);
  });
  it('7. SGD and momentum optimizers: applyGradients on the prototype, c = −lr, m, useNesterov, accumulations, incrementIterations', () => {
    for (const Optimizer of [tf.SGDOptimizer, tf.MomentumOptimizer]) {
      expect(Object.prototype.hasOwnProperty.call(Optimizer.prototype, 'applyGradients'), `${Optimizer.name}.prototype.applyGradients`).toBe(true);
    }
    const sgd = sgdOptimizerInternals(tf.train.sgd(0.25));
    expect(sgd.c?.dataSync()[0], 'SGDOptimizer no longer keeps −learning rate as the scalar c').toBe(-0.25);
    expect(typeof sgd.incrementIterations).toBe('function');

    const optimizer = tf.train.momentum(0.5, 0.75, true);
    const state = momentumOptimizerInternals(optimizer);
    expect(state.c?.dataSync()[0], 'MomentumOptimizer no longer keeps −learning rate as the scalar c').toBe(-0.5);
    expect(state.m?.dataSync()[0], 'MomentumOptimizer no longer keeps the momentum as the scalar m').toBe(0.75);
    expect(state.useNesterov).toBe(true);
    expect(Array.isArray(state.accumulations), 'MomentumOptimizer no longer keeps its slots in accumulations[]').toBe(true);
    const first = tf.variable(tf.ones([2]));
    const second = tf.variable(tf.ones([3]));
    const gradient = tf.ones([3]);
    // Only the second variable gets a gradient: its slot must sit at position 1.
    optimizer.applyGradients([{ name: first.name, tensor: null as unknown as tf.Tensor }, { name: second.name, tensor: gradient }]);
    expect(state.accumulations[1]?.originalName).toBe(`${second.name}/momentum`);
    expect(state.accumulations[1]?.variable.shape).toEqual([3]);
    expect(optimizer.iterations, 'incrementIterations no longer counts applyGradients calls').toBe(1);
    state.incrementIterations();
    expect(optimizer.iterations).toBe(2);
    optimizer.dispose();
    tf.dispose([first, second, gradient]);
  });
});
