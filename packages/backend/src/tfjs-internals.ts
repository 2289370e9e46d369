import * as tf from '@tensorflow/tfjs-core';
import { engine, type MomentumOptimizer, type Scalar, type SGDOptimizer, type Variable } from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

/**
 * Everything @mm/backend assumes about tfjs (4.22) beyond its documented API, in one place.
 * tfjs-internals.test.ts checks each assumption against the installed tfjs and names the one
 * that broke, so a tfjs upgrade fails there first instead of deep inside a kernel.
 *
 *  1. BackendWasm.wasm is the Emscripten module: `HEAPU8` views the heap, and the memory object
 *     is `wasmMemory` (threaded build) or `asm.memory` (single-threaded build).
 *  2. BackendWasm reads `module.HEAPU8` on every access (heap-view.ts makes it a getter).
 *  3. `engine().state.gradientDepth` > 0 while tfjs records gradients.
 *  4. tfjs-layers calls `fused.conv2d` and `moments` through tfjs-core's exports at call time,
 *     so replacing the properties (function-patch.ts) reroutes it; in Node's CommonJS build the
 *     `fused` namespace and the exports object are writable.
 *  5. tfjs-backend-wasm registers a stock 'wasm' kernel for every name this package replaces
 *     when it is imported, and a stock kernelFunc may be called directly with the backend
 *     (stock-kernels.ts); it registers no Conv2DBackpropFilter.
 *  6. The threaded build (Node loader, wasm-threads.ts): the files in THREADED_BUILD_FILES, the
 *     worker script exported as the string `wasmWorkerContents`, the C entry points in
 *     BACKEND_WASM_ENTRY_POINTS, pool threads in `PThread.runningWorkers`, and a pool sized from
 *     `os.cpus().length / 2` in Node and `navigator.hardwareConcurrency / 2` in a browser
 *     (both patched while the backend starts).
 *  7. SGDOptimizer and MomentumOptimizer (optimizer-update.ts): applyGradients is a prototype
 *     method; the learning rate is kept negated as the scalar `c`, the momentum as the scalar
 *     `m`, Nesterov as `useNesterov`; the slots are `accumulations[i]` = { originalName
 *     `<variable>/momentum`, variable }, created on first use at the gradient's position; and
 *     `incrementIterations()` counts a step.
 */

/** 1. The parts of tfjs-backend-wasm's Emscripten module this package reads. */
export interface EmscriptenHeap {
  HEAPU8: Uint8Array;
  wasmMemory: { buffer: ArrayBufferLike };
}

interface EmscriptenModule {
  HEAPU8: Uint8Array;
  wasmMemory?: { buffer: ArrayBufferLike };
  asm?: { memory?: { buffer: ArrayBufferLike } };
}

/** 1. The Emscripten module of a wasm backend. */
export function emscriptenModule(backend: BackendWasm): EmscriptenModule {
  return (backend as unknown as { wasm: EmscriptenModule }).wasm;
}

/** 1. The heap's current buffer (take it again after any allocation: growth replaces it). */
export function wasmHeapBuffer(backend: BackendWasm): ArrayBufferLike {
  return emscriptenModule(backend).HEAPU8.buffer;
}

/** 1. The WebAssembly.Memory the backend's heap lives in (what the kernel module imports). */
export function wasmHeapMemory(backend: BackendWasm): { buffer: ArrayBufferLike } | undefined {
  const module = emscriptenModule(backend);
  return module.wasmMemory ?? module.asm?.memory;
}

/** 3. Whether tfjs is recording gradients (inside tf.grad / minimize). */
export function recordingGradients(): boolean {
  return engine().state.gradientDepth > 0;
}

/** 4. The object tfjs-layers reads `fused.conv2d` from: tfjs-core's `fused` namespace. */
export function fusedNamespace(): Record<string, unknown> {
  return tf.fused as unknown as Record<string, unknown>;
}

/** 6. The threaded build's files, relative to the tfjs-backend-wasm package folder. */
export const THREADED_BUILD_FILES = {
  glue: 'wasm-out/tfjs-backend-wasm-threaded-simd.js',
  worker: 'wasm-out/tfjs-backend-wasm-threaded-simd.worker.js',
  binary: 'wasm-out/tfjs-backend-wasm-threaded-simd.wasm',
} as const;

/**
 * 6. The C functions BackendWasm calls through `module.tfjs` (its own loader wraps them with
 * cwrap; the Node loader of the threaded build has to do the same), with cwrap's return and
 * argument types.
 */
export const BACKEND_WASM_ENTRY_POINTS = {
  init: ['init', null, []],
  initWithThreadsCount: ['init_with_threads_count', null, ['number']],
  getThreadsCount: ['get_threads_count', 'number', []],
  registerTensor: ['register_tensor', null, ['number', 'number', 'number']],
  disposeData: ['dispose_data', null, ['number']],
  dispose: ['dispose', null, []],
} as const satisfies Record<string, readonly [string, 'number' | null, readonly string[]]>;

/** 6. The pool threads the threaded build started (Node worker_threads there). */
export function threadedPoolWorkers(module: { PThread: { runningWorkers: { unref(): void }[] } }): { unref(): void }[] {
  return module.PThread.runningWorkers;
}

/** 7. The private state of tfjs-core's SGD optimizer that the one-kernel update reads. */
export interface SgdOptimizerInternals {
  /** −learning rate. */
  c: Scalar;
  incrementIterations(): void;
}

/** 7. …and of its momentum optimizer (the slots are written as tfjs-core writes them). */
export interface MomentumOptimizerInternals extends SgdOptimizerInternals {
  m: Scalar;
  useNesterov: boolean;
  accumulations: ({ originalName: string; variable: Variable } | undefined)[];
}

/** 7. */
export function sgdOptimizerInternals(optimizer: SGDOptimizer): SgdOptimizerInternals {
  return optimizer as unknown as SgdOptimizerInternals;
}

/** 7. */
export function momentumOptimizerInternals(optimizer: MomentumOptimizer): MomentumOptimizerInternals {
  return optimizer as unknown as MomentumOptimizerInternals;
}
