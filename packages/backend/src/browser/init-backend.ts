import * as tf from '@tensorflow/tfjs-core';
import { registerWasmTrainingKernels } from '../kernels/register-wasm.js';
import { setWasmThreadsInUse, wasmThreadsInUse } from '../wasm-thread-count.js';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { keepHeapViewCurrent } from '../heap-view.js';
import { emscriptenModule, type EmscriptenHeap } from '../tfjs-internals.js';
import { chooseBackend, describeError, forcedBackend, resolveLog, type BackendAttempt as Attempt } from '../choose-backend.js';

/** Backends in order of preference in a browser: the first that loads wins. */
export const BACKEND_PREFERENCE = ['webgpu', 'webgl', 'wasm', 'cpu'] as const;
export type BackendChoice = (typeof BACKEND_PREFERENCE)[number];
export type BackendAttempt = Attempt<BackendChoice>;

/** The three binaries of tfjs-backend-wasm; `setWasmPaths` with a map needs all of them. */
export type WasmBinaryName = 'tfjs-backend-wasm.wasm' | 'tfjs-backend-wasm-simd.wasm' | 'tfjs-backend-wasm-threaded-simd.wasm';

export interface InitBackendOptions {
  /** Force one backend instead of trying them in order (fails loudly if it cannot load). */
  backend?: BackendChoice;
  /**
   * How to load each backend package you ship, e.g. `{ webgl: () => import('@tensorflow/tfjs-backend-webgl') }`:
   * bundlers then put each in its own chunk, fetched only when tried. A backend whose package
   * the page imported itself needs no loader. wasm needs one for `wasmPaths` and `threads`.
   */
  loaders?: Partial<Record<BackendChoice, () => Promise<unknown>>>;
  /**
   * Where tfjs-backend-wasm's `.wasm` files are served: a URL prefix ending in `/`, or a map
   * of all three binaries (given to its `setWasmPaths`). Needed whenever a bundler moved the
   * JavaScript away from them.
   */
  wasmPaths?: string | Record<WasmBinaryName, string>;
  /**
   * Threads of the wasm backend when the page is cross-origin isolated (default: one per
   * logical core, `navigator.hardwareConcurrency`, at most 8). Without isolation wasm runs one thread.
   */
  threads?: number;
  /** Where to report the choice; `false` silences it. Defaults to `console.info`. */
  log?: ((message: string) => void) | false;
}

interface Candidate {
  packageName: string;
  tfName: string;
}

const CANDIDATES: Record<BackendChoice, Candidate> = {
  webgpu: { packageName: '@tensorflow/tfjs-backend-webgpu', tfName: 'webgpu' },
  webgl: { packageName: '@tensorflow/tfjs-backend-webgl', tfName: 'webgl' },
  wasm: { packageName: '@tensorflow/tfjs-backend-wasm', tfName: 'wasm' },
  cpu: { packageName: '@tensorflow/tfjs-backend-cpu', tfName: 'cpu' },
};

/** The wasm threaded build pre-creates at most this many workers. */
const MAX_WASM_THREADS = 8;

interface WasmPackage {
  setWasmPaths(paths: string | Record<string, string>): void;
  setThreadsCount(threads: number): void;
  getThreadsCount(): number;
}

interface BrowserGlobals {
  crossOriginIsolated?: boolean;
  navigator?: { hardwareConcurrency?: number; gpu?: { requestAdapter(): Promise<unknown> } };
}

const browser = globalThis as unknown as BrowserGlobals;

let lastAttempts: BackendAttempt[] = [];

/** What the last `initBackend` call tried, in order, with the reason each rejected backend was skipped. */
export function backendAttempts(): readonly BackendAttempt[] {
  return lastAttempts;
}

/** Why this browser cannot run WebGPU, or undefined when it has an adapter. */
async function webGpuProblem(): Promise<string | undefined> {
  const gpu = browser.navigator?.gpu;
  if (gpu === undefined) return 'this browser has no WebGPU (navigator.gpu is undefined)';
  try {
    if ((await gpu.requestAdapter()) == null) return 'no WebGPU adapter (navigator.gpu.requestAdapter() returned null)';
  } catch (error) {
    return `requesting a WebGPU adapter failed: ${describeError(error)}`;
  }
  return undefined;
}

function isWasmPackage(value: unknown): value is WasmPackage {
  const candidate = value as Partial<WasmPackage> | null;
  return typeof candidate?.setWasmPaths === 'function' && typeof candidate.setThreadsCount === 'function';
}

/** Thread count to ask tfjs-backend-wasm for, and the note for the log when it is one. */
function wasmThreadPlan(requested: number | undefined): { threads: number; note?: string } {
  if (requested !== undefined && !(Number.isInteger(requested) && requested >= 1)) {
    throw new Error(`initBackend: options.threads must be a positive integer (1 = single-threaded), got ${requested}`);
  }
  if (browser.crossOriginIsolated !== true) {
    return {
      threads: 1,
      note: 'single-threaded: the page is not cross-origin isolated (serve it with Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp)',
    };
  }
  const threads = Math.min(requested ?? browser.navigator?.hardwareConcurrency ?? 1, MAX_WASM_THREADS);
  return { threads };
}

async function tryBackend(choice: BackendChoice, options: InitBackendOptions, notes: string[]): Promise<string | undefined> {
  const { packageName, tfName } = CANDIDATES[choice];
  if (choice === 'webgpu') {
    const problem = await webGpuProblem();
    if (problem !== undefined) return problem;
  }
  const loader = options.loaders?.[choice];
  let loaded: unknown;
  if (loader !== undefined) {
    try {
      loaded = await loader();
    } catch (error) {
      return `${packageName}: ${describeError(error)}`;
    }
  }
  if (tf.findBackendFactory(tfName) === null && tf.findBackend(tfName) === null) {
    return loader === undefined
      ? `${packageName}: not loaded (import it, or pass loaders.${choice})`
      : `${packageName} loaded but registered no '${tfName}' backend with this copy of @tensorflow/tfjs-core (two tfjs copies in the bundle? keep one version)`;
  }
  let wasm: WasmPackage | undefined;
  let wasmThreadsAsked = 1;
  if (choice === 'wasm' && tf.findBackend('wasm') === null) {
    wasm = isWasmPackage(loaded) ? loaded : undefined;
    if (wasm === undefined) {
      notes.push('paths and threads as the page set them (no loaders.wasm)');
    } else {
      try {
        if (options.wasmPaths !== undefined) wasm.setWasmPaths(options.wasmPaths);
      } catch (error) {
        return `${packageName}: setWasmPaths: ${describeError(error)}`;
      }
      const plan = wasmThreadPlan(options.threads);
      wasm.setThreadsCount(plan.threads);
      wasmThreadsAsked = plan.threads;
      if (plan.note !== undefined) notes.push(plan.note);
    }
  }
  try {
    const started = wasm === undefined ? tf.setBackend(tfName) : withThreadsAllowed(wasmThreadsAsked, () => tf.setBackend(tfName));
    if (!(await started)) {
      return choice === 'wasm' && options.wasmPaths === undefined
        ? `${packageName}: tf.setBackend('wasm') failed to initialize (are its .wasm files served? pass wasmPaths: the URL folder that holds them)`
        : `${packageName}: tf.setBackend('${tfName}') failed to initialize`;
    }
    await tf.ready();
  } catch (error) {
    return `${packageName}: ${describeError(error)}`;
  }
  if (choice === 'wasm') prepareWasm(wasm, notes);
  return undefined;
}

/**
 * tfjs-backend-wasm's threaded build caps its pool at half the logical cores (it assumes
 * hyper-threading, reading `navigator.hardwareConcurrency` when the backend starts), and
 * `setThreadsCount` can only go lower: on 2 cores that is 1 thread. So while the backend
 * starts, the browser reports twice the threads asked for.
 */
async function withThreadsAllowed<T>(threads: number, start: () => Promise<T>): Promise<T> {
  const navigator = browser.navigator as object | undefined;
  if (navigator === undefined || threads <= 1) return start();
  const own = Object.getOwnPropertyDescriptor(navigator, 'hardwareConcurrency');
  Object.defineProperty(navigator, 'hardwareConcurrency', { configurable: true, get: () => 2 * threads });
  try {
    return await start();
  } finally {
    if (own !== undefined) Object.defineProperty(navigator, 'hardwareConcurrency', own);
    else delete (navigator as { hardwareConcurrency?: number }).hardwareConcurrency;
  }
}

/** After the wasm backend starts: its thread count, fresh heap views on shared memory, the training kernels. */
function prepareWasm(wasm: WasmPackage | undefined, notes: string[]): void {
  const module = emscriptenModule(tf.backend() as unknown as BackendWasm);
  const shared = typeof SharedArrayBuffer !== 'undefined' && module.wasmMemory?.buffer instanceof SharedArrayBuffer;
  if (shared) keepHeapViewCurrent(module as EmscriptenHeap);
  if (wasm !== undefined) setWasmThreadsInUse(wasm.getThreadsCount());
  registerWasmTrainingKernels();
  const threads = wasmThreadsInUse();
  notes.unshift(`${threads} thread${threads > 1 ? 's' : ''}`);
}

/**
 * Picks the best tfjs backend that loads in this browser: WebGPU (when the browser has an
 * adapter), WebGL, wasm, cpu. `options.backend` forces one. On wasm it runs the threaded build
 * when the page is cross-origin isolated and registers the kernels training needs that
 * tfjs-backend-wasm lacks. Returns the chosen backend's name.
 */
export async function initBackend(options: InitBackendOptions = {}): Promise<BackendChoice> {
  const log = resolveLog(options.log, (m) => console.info(m));
  const forced = forcedBackend(BACKEND_PREFERENCE, options.backend);
  const order: readonly BackendChoice[] = forced ? [forced] : BACKEND_PREFERENCE;
  lastAttempts = [];
  return chooseBackend(
    {
      order,
      how: forced ? 'forced by option' : 'best available',
      attempt: (choice, notes) => tryBackend(choice, options, notes),
      log,
      failure: (attempts) => {
        const tried = attempts.map((a) => `  - ${a.backend}: ${a.reason}`).join('\n');
        return new Error(
          forced
            ? `Backend '${forced}' could not be loaded:\n${tried}\nShip ${CANDIDATES[forced].packageName} (same version as @tensorflow/tfjs-core) and pass its loader, or choose another backend.`
            : `No tfjs backend could be loaded:\n${tried}\nShip @tensorflow/tfjs-backend-webgl (every browser with WebGL2) or @tensorflow/tfjs-backend-cpu and pass their loaders.`,
        );
      },
    },
    lastAttempts,
  );
}
