import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import { dirname, join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { keepHeapViewCurrent } from './heap-view.js';
import { setWasmThreadsInUse } from './wasm-thread-count.js';
import { BACKEND_WASM_ENTRY_POINTS, THREADED_BUILD_FILES, threadedPoolWorkers } from './tfjs-internals.js';

export { wasmThreadsInUse } from './wasm-thread-count.js';

/**
 * Multi-threaded tfjs-backend-wasm in Node.
 *
 * tfjs-backend-wasm ships a threaded SIMD build (XNNPACK on a pthreadpool) but never uses it
 * in Node (tfjs #3830): its loader hands Emscripten `blob:` URLs for the worker and main
 * script, which Node's worker_threads cannot open. The Emscripten glue itself supports Node,
 * so this module loads the threaded build with real file paths and registers it as the
 * 'wasm' backend. Kernels, tensors and results are the same as the single-threaded build
 * (XNNPACK splits output tiles between threads, it does not reorder any sum).
 */

/** Environment variable that sets the number of wasm threads (1 = the stock single-threaded build). */
export const WASM_THREADS_ENV_VAR = 'MM_WASM_THREADS';

/** The threaded build pre-creates 8 workers and caps its pool there. */
export const MAX_WASM_THREADS = 8;

interface EmscriptenWorker {
  unref(): void;
}

interface ThreadedModule {
  cwrap(name: string, returnType: string | null, argTypes: string[]): (...args: number[]) => number;
  HEAPU8: Uint8Array;
  wasmMemory: { buffer: ArrayBufferLike };
  PThread: { runningWorkers: EmscriptenWorker[]; unusedWorkers: EmscriptenWorker[] };
  tfjs?: Record<string, (...args: number[]) => number>;
}

type ThreadedFactory = (config: Record<string, unknown>) => Promise<ThreadedModule>;

interface WasmPackage {
  BackendWasm: new (module: unknown) => tf.KernelBackend;
  setThreadsCount(threads: number): void;
  getThreadsCount(): number;
}

let active: { threads: number } | null = null;

/**
 * The number of wasm threads to use: `requested`, else `MM_WASM_THREADS`, else one per core
 * (`os.availableParallelism()`), at most 8. Throws on a value that is not a positive integer.
 */
export function resolveWasmThreads(requested: number | undefined, env: Record<string, string | undefined>): number {
  const fromEnv = env[WASM_THREADS_ENV_VAR]?.trim();
  let threads = requested;
  if (threads === undefined && fromEnv) {
    threads = Number(fromEnv);
    if (!Number.isInteger(threads) || threads < 1) {
      throw new Error(`${WASM_THREADS_ENV_VAR}=${fromEnv} is not a thread count; use a positive integer (1 = single-threaded) or unset it.`);
    }
  }
  if (threads === undefined) threads = os.availableParallelism();
  if (!Number.isInteger(threads) || threads < 1) {
    throw new Error(`wasm threads must be a positive integer (1 = single-threaded), got ${threads}`);
  }
  return Math.min(threads, MAX_WASM_THREADS);
}

/**
 * Emscripten's Node worker script is shipped as a JS string; workers need a file. It is
 * written once per content (hash in the name) into the OS temp directory, atomically, so
 * concurrent processes never see a half-written file.
 */
function workerScriptFile(contents: string): string {
  const hash = createHash('sha256').update(contents).digest('hex').slice(0, 16);
  const dir = join(os.tmpdir(), 'mm-backend-wasm');
  const file = join(dir, `threaded-simd-worker-${hash}.cjs`);
  if (!existsSync(file)) {
    mkdirSync(dir, { recursive: true });
    const partial = `${file}.${process.pid}.partial`;
    writeFileSync(partial, contents);
    renameSync(partial, file);
  }
  return file;
}

/**
 * Two Node details the Emscripten glue gets wrong for us, patched only while it instantiates
 * (that is when it sizes its pool and creates its 8 workers):
 * - it sizes the pool from `os.cpus().length / 2` (assuming hyper-threading) and
 *   `initWithThreadsCount` can only go lower, so report enough CPUs;
 * - `new Worker(file)` inherits this process's `execArgv`, so a `--import tsx` loader would
 *   start in every pool thread and `--input-type` would kill it; the workers only run the
 *   glue, so they get none (V8 flags are per process anyway).
 */
async function withGluePatches<T>(threads: number, instantiate: () => Promise<T>): Promise<T> {
  const require = createRequire(import.meta.url);
  const workerThreads = require('node:worker_threads') as typeof import('node:worker_threads');
  const RealWorker = workerThreads.Worker;
  const realCpus = os.cpus;
  os.cpus = () => {
    const cpus = realCpus.call(os);
    while (cpus.length < 2 * threads) cpus.push(cpus[0]);
    return cpus;
  };
  class PoolWorker extends RealWorker {
    constructor(filename: string | URL, options: import('node:worker_threads').WorkerOptions = {}) {
      super(filename, { ...options, execArgv: [] });
    }
  }
  workerThreads.Worker = PoolWorker;
  try {
    return await instantiate();
  } finally {
    os.cpus = realCpus;
    workerThreads.Worker = RealWorker;
  }
}

async function loadThreadedModule(threads: number): Promise<ThreadedModule> {
  const require = createRequire(import.meta.url);
  const packageDir = dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json'));
  const gluePath = join(packageDir, THREADED_BUILD_FILES.glue);
  const factory = require(gluePath) as ThreadedFactory;
  const { wasmWorkerContents } = require(join(packageDir, THREADED_BUILD_FILES.worker)) as { wasmWorkerContents: string };
  // The string came out of a template literal, which turned the `\n` escapes of the worker's
  // string literals into real newlines; put the escapes back (as tfjs's own loader does).
  const workerFile = workerScriptFile(wasmWorkerContents.replace(/\n/g, '\\n'));
  const module = await withGluePatches(threads, () =>
    factory({
      locateFile: (path: string, prefix: string) => {
        if (path.endsWith('.worker.js')) return workerFile;
        if (path.endsWith('.wasm')) return join(packageDir, THREADED_BUILD_FILES.binary);
        return prefix + path;
      },
      // Each worker evaluates the glue again, read from this file.
      mainScriptUrlOrBlob: gluePath,
    }),
  );
  keepHeapViewCurrent(module);
  // What tfjs-backend-wasm's own loader sets up for BackendWasm.
  module.tfjs = Object.fromEntries(
    Object.entries(BACKEND_WASM_ENTRY_POINTS).map(([key, [name, returns, args]]) => [key, module.cwrap(name, returns, [...args])]),
  );
  return module;
}


/**
 * Replaces the registered 'wasm' backend by the threaded build with `threads` threads (≥ 2).
 * Must run before the wasm backend is first initialised; returns a reason string instead of
 * throwing when it cannot (the caller then keeps the single-threaded backend).
 */
export async function useThreadedWasm(threads: number, wasmPackage: WasmPackage): Promise<string | undefined> {
  if (active !== null && tf.findBackend('wasm') !== null) {
    return active.threads === threads ? undefined : `this process already runs wasm with ${active.threads} threads (the thread count is fixed once the backend exists)`;
  }
  if (tf.findBackend('wasm') !== null) {
    // Replacing it would invalidate every tensor it holds.
    return 'the single-threaded wasm backend was already initialised in this process; call initBackend before any other tfjs work';
  }
  if (typeof SharedArrayBuffer === 'undefined') return 'SharedArrayBuffer is not available in this Node.js';
  let module: ThreadedModule;
  try {
    module = await loadThreadedModule(threads);
  } catch (error) {
    return `the threaded wasm build did not load: ${(error as Error).message.split('\n')[0]}`;
  }
  const stockFactory = tf.findBackendFactory('wasm');
  const restoreStock = (reason: string) => {
    tf.removeBackend('wasm');
    if (stockFactory !== null) tf.registerBackend('wasm', stockFactory, 2);
    return reason;
  };
  if (stockFactory !== null) tf.removeBackend('wasm');
  wasmPackage.setThreadsCount(threads);
  tf.registerBackend('wasm', () => new wasmPackage.BackendWasm(module), 2);
  try {
    if (!(await tf.setBackend('wasm'))) return restoreStock('tf.setBackend did not initialise the threaded wasm build');
  } catch (error) {
    return restoreStock(`the threaded wasm build did not initialise: ${(error as Error).message.split('\n')[0]}`);
  }
  // Pool threads wait for work forever; unreferenced, they do not keep Node alive at exit.
  for (const worker of threadedPoolWorkers(module)) worker.unref();
  const started = wasmPackage.getThreadsCount();
  active = { threads: started };
  setWasmThreadsInUse(started);
  if (started !== threads) return `the threaded wasm build started ${started} threads instead of ${threads}`;
  return undefined;
}
