import v8 from 'node:v8';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { wasmThreadsInUse } from '../../wasm-threads.js';
import { Worker } from 'node:worker_threads';
import { KERNELS_WASM_BASE64 } from './kernels-wasm.generated.js';
import { webAssembly, type WasmMemory } from './webassembly.js';

/**
 * The @mm/backend kernel module (csrc/kernels.c) instantiated on tfjs-backend-wasm's own
 * memory, so its kernels read and write tfjs tensors in place, plus a small pool of worker
 * threads that run the same module on the same (shared) memory for a slice of each call.
 */

/** Set to 0 to use the plain-SIMD build even where relaxed SIMD (FMA) is available. */
export const RELAXED_SIMD_ENV_VAR = 'MM_WASM_RELAXED_SIMD';

const FUNCTIONS = ['pack_filter', 'conv2d', 'conv2d_filter_grad', 'max_pool_2x2_grad'] as const;
export type SimdFunction = (typeof FUNCTIONS)[number];

// Control block of one worker, in int32 slots.
const SEQ = 0;
const DONE = 1;
const FAILED = 2;
const FUNCTION = 3;
const ARG_COUNT = 4;
const ARGS = 5;
const MAX_ARGS = 32;

export interface SimdModule {
  /** Relaxed-SIMD (FMA) build rather than the plain-SIMD one. */
  readonly relaxed: boolean;
  /** Threads a split call runs on (this one plus the pool's workers). */
  readonly threads: number;
  /** Calls `name` on this thread. Arguments are int32: byte offsets into the heap and sizes. */
  call(name: SimdFunction, args: readonly number[]): void;
  /**
   * Runs `name` once per part, part 0 on this thread and the others on the pool at the same
   * time; `argsOf(part)` gives each part's arguments. Returns when every part is done.
   */
  split(name: SimdFunction, parts: number, argsOf: (part: number) => readonly number[]): void;
}

interface ModuleExports {
  [name: string]: (...args: number[]) => void;
}

/** The wasm bytes of one build variant. */
function variantBytes(relaxed: boolean, shared: boolean): Uint8Array {
  const key = `${relaxed ? 'relaxed' : 'plain'}${shared ? 'Shared' : 'Private'}` as keyof typeof KERNELS_WASM_BASE64;
  return Buffer.from(KERNELS_WASM_BASE64[key], 'base64');
}

let relaxedSupport: boolean | undefined;

/**
 * Whether this engine runs relaxed SIMD. Node 20's V8 has it behind a flag, which is set here
 * (before anything is compiled with it); later engines ship it on.
 */
export function relaxedSimdAvailable(): boolean {
  if (relaxedSupport !== undefined) return relaxedSupport;
  const probe = variantBytes(true, false);
  if (!webAssembly.validate(probe)) {
    try {
      v8.setFlagsFromString('--experimental-wasm-relaxed-simd');
    } catch {
      // An engine without the flag: the plain build is used.
    }
  }
  const supported = webAssembly.validate(probe);
  relaxedSupport = supported;
  return supported;
}

function wantRelaxed(env: Record<string, string | undefined>): boolean {
  const setting = env[RELAXED_SIMD_ENV_VAR]?.trim();
  if (setting === '0' || setting === 'false') return false;
  return relaxedSimdAvailable();
}

// Runs in each pool worker (CommonJS, evaluated from this string so that no file has to ship).
const WORKER_SOURCE = `
const { workerData } = require('node:worker_threads');
const { module, memory, control, names } = workerData;
const exports_ = new WebAssembly.Instance(module, { env: { memory } }).exports;
const ctl = new Int32Array(control);
let seen = 0;
for (;;) {
  Atomics.wait(ctl, ${SEQ}, seen);
  seen = Atomics.load(ctl, ${SEQ});
  try {
    const args = Array.from(ctl.subarray(${ARGS}, ${ARGS} + ctl[${ARG_COUNT}]));
    exports_[names[ctl[${FUNCTION}]]](...args);
  } catch (error) {
    Atomics.store(ctl, ${FAILED}, 1);
  }
  Atomics.store(ctl, ${DONE}, seen);
  Atomics.notify(ctl, ${DONE});
}
`;

interface PoolWorker {
  control: Int32Array;
  seq: number;
}

/**
 * Instantiates the module on `memory` (tfjs-backend-wasm's). With shared memory and
 * `threads` > 1, also starts threads − 1 pool workers (unreferenced: they never keep the
 * process alive). `relaxed` overrides the choice of build (default: relaxed SIMD where the
 * engine has it, unless MM_WASM_RELAXED_SIMD=0).
 */
export function createSimdModule(
  memory: WasmMemory,
  options: { threads?: number; relaxed?: boolean; env?: Record<string, string | undefined> } = {},
): SimdModule {
  const shared = typeof SharedArrayBuffer !== 'undefined' && memory.buffer instanceof SharedArrayBuffer;
  const relaxed = options.relaxed ?? wantRelaxed(options.env ?? process.env);
  if (relaxed && !relaxedSimdAvailable()) throw new Error('relaxed SIMD was requested but this engine does not run it');
  const compiled = new webAssembly.Module(variantBytes(relaxed, shared));
  const exports = new webAssembly.Instance(compiled, { env: { memory } }).exports as unknown as ModuleExports;
  const threads = shared ? Math.max(1, Math.floor(options.threads ?? 1)) : 1;

  const workers: PoolWorker[] = [];
  for (let i = 1; i < threads; i++) {
    const control = new SharedArrayBuffer((ARGS + MAX_ARGS) * 4);
    const worker = new Worker(WORKER_SOURCE, {
      eval: true,
      // Not this process's loader flags (e.g. --import tsx): the worker runs plain JS.
      execArgv: [],
      workerData: { module: compiled, memory, control, names: FUNCTIONS },
    });
    worker.unref();
    workers.push({ control: new Int32Array(control), seq: 0 });
  }

  const call = (name: SimdFunction, args: readonly number[]): void => {
    exports[name](...args);
  };

  const split = (name: SimdFunction, parts: number, argsOf: (part: number) => readonly number[]): void => {
    const onPool = Math.min(parts - 1, workers.length);
    for (let part = 1; part <= onPool; part++) {
      const worker = workers[part - 1];
      const args = argsOf(part);
      if (args.length > MAX_ARGS) throw new Error(`${name}: ${args.length} arguments, the pool passes at most ${MAX_ARGS}`);
      const { control } = worker;
      control[FUNCTION] = FUNCTIONS.indexOf(name);
      control[ARG_COUNT] = args.length;
      for (let i = 0; i < args.length; i++) control[ARGS + i] = args[i];
      worker.seq = (worker.seq + 1) | 0 || 1;
      Atomics.store(control, SEQ, worker.seq);
      Atomics.notify(control, SEQ);
    }
    // Parts beyond the pool (parts > threads) run here, after part 0.
    call(name, argsOf(0));
    for (let part = onPool + 1; part < parts; part++) call(name, argsOf(part));
    let failed = false;
    for (let part = 1; part <= onPool; part++) {
      const { control, seq } = workers[part - 1];
      for (let done = Atomics.load(control, DONE); done !== seq; done = Atomics.load(control, DONE)) {
        Atomics.wait(control, DONE, done, 1000);
      }
      if (Atomics.exchange(control, FAILED, 0) !== 0) failed = true;
    }
    if (failed) throw new Error(`${name} failed on a @mm/backend pool thread (a wasm trap: bad offsets or sizes)`);
  };

  return { relaxed, threads, call, split };
}

/** Set to `xnnpack` to run no kernel of this module: convolutions stay on tfjs-backend-wasm's XNNPACK. */
export const SIMD_KERNELS_ENV_VAR = 'MM_WASM_KERNELS';

const modules = new WeakMap<object, SimdModule | null>();

interface EmscriptenModule {
  wasmMemory?: WasmMemory;
  asm?: { memory?: WasmMemory };
}

/**
 * The module on this backend's heap (created on first use, with the backend's thread count),
 * or null when it cannot run there or MM_WASM_KERNELS=xnnpack turns it off.
 */
export function simdModuleFor(wasm: BackendWasm): SimdModule | null {
  const cached = modules.get(wasm);
  if (cached !== undefined) return cached;
  let module: SimdModule | null = null;
  if (process.env[SIMD_KERNELS_ENV_VAR]?.trim() !== 'xnnpack') {
    // The threaded build keeps its memory on the module; the single-threaded one exports it.
    const emscripten = (wasm as unknown as { wasm: EmscriptenModule }).wasm;
    const memory = emscripten.wasmMemory ?? emscripten.asm?.memory;
    if (memory instanceof webAssembly.Memory) {
      module = createSimdModule(memory, { threads: wasmThreadsInUse() });
    }
  }
  modules.set(wasm, module);
  return module;
}
