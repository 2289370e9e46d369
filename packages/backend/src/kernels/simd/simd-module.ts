import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { host } from '#kernel-host';
import { wasmThreadsInUse } from '../../wasm-thread-count.js';
import { KERNELS_WASM_BASE64 } from './kernels-wasm.generated.js';
import { webAssembly, type WasmMemory } from './webassembly.js';

/**
 * The @mm/backend kernel module (csrc/kernels.c) instantiated on tfjs-backend-wasm's own
 * memory, so its kernels read and write tfjs tensors in place, plus a small pool of worker
 * threads that run the same module on the same (shared) memory for a slice of each call.
 */

/** Set to 0 to use the plain-SIMD build even where relaxed SIMD (FMA) is available. */
export const RELAXED_SIMD_ENV_VAR = 'MM_WASM_RELAXED_SIMD';

const FUNCTIONS = [
  'pack_filter',
  'conv2d',
  'conv2d_filter_grad',
  'max_pool_2x2_grad',
  'binary_same',
  'binary_rows',
  'unary',
  'sum_middle',
  'scale_shift_rows',
  'to_channel_major',
  'pack_rows_as_filter',
  'winograd_filter',
  'winograd_input',
  'winograd_output',
  'pack_matrix',
  'transpose_2d',
  'momentum_update',
  'relu_grad',
] as const;
export type SimdFunction = (typeof FUNCTIONS)[number];

// The pool's control block (int32 slots, shared by every worker): one job at a time, cut into
// chunks that the calling thread and the workers claim one by one from NEXT. Whoever is free
// takes the next chunk, so a worker that wakes late (the OS had the core busy) costs nothing:
// the caller simply runs more chunks itself.
const SEQ = 0;
const NEXT = 1;
const FINISHED = 2;
const FAILED = 3;
const FUNCTION = 4;
const ARG_COUNT = 5;
const CHUNKS = 6;
const ARGS = 8;
const MAX_ARG_SLOTS = 1024;

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
  return Uint8Array.from(atob(KERNELS_WASM_BASE64[key]), (c) => c.charCodeAt(0));
}

let relaxedSupport: boolean | undefined;

/**
 * Whether this engine runs relaxed SIMD. Node 20's V8 has it behind a flag, which is set here
 * (before anything is compiled with it); later engines ship it on.
 */
export function relaxedSimdAvailable(): boolean {
  if (relaxedSupport !== undefined) return relaxedSupport;
  const probe = variantBytes(true, false);
  if (!webAssembly.validate(probe)) host.allowRelaxedSimd();
  const supported = webAssembly.validate(probe);
  relaxedSupport = supported;
  return supported;
}

function wantRelaxed(env: (name: string) => string | undefined): boolean {
  const setting = env(RELAXED_SIMD_ENV_VAR)?.trim();
  if (setting === '0' || setting === 'false') return false;
  return relaxedSimdAvailable();
}

// Runs in each pool thread, started by the host (a Node worker thread, or a Web Worker) with
// { module, memory, control, names }. Plain JS in one function expression, so that no file has
// to ship. Job fields are read only after a chunk is claimed: a claim that lands on a newer job
// then reads that job's fields, which the caller wrote before opening it (NEXT reset last).
const POOL_LOOP = `function (data) {
const { module, memory, control, names } = data;
const exports_ = new WebAssembly.Instance(module, { env: { memory } }).exports;
const ctl = new Int32Array(control);
let seen = 0;
for (;;) {
  Atomics.wait(ctl, ${SEQ}, seen);
  seen = Atomics.load(ctl, ${SEQ});
  for (;;) {
    const chunk = Atomics.add(ctl, ${NEXT}, 1);
    const chunks = Atomics.load(ctl, ${CHUNKS});
    if (chunk >= chunks) break;
    const argc = ctl[${ARG_COUNT}];
    try {
      const at = ${ARGS} + chunk * argc;
      exports_[names[ctl[${FUNCTION}]]](...ctl.subarray(at, at + argc));
    } catch (error) {
      Atomics.store(ctl, ${FAILED}, 1);
    }
    if (Atomics.add(ctl, ${FINISHED}, 1) + 1 === chunks) Atomics.notify(ctl, ${FINISHED});
  }
}
}`;

/**
 * Instantiates the module on `memory` (tfjs-backend-wasm's). With shared memory and
 * `threads` > 1, also starts threads − 1 pool threads (unreferenced: they never keep the
 * process alive), unless this thread may not block (a page's main thread: one thread then).
 * `relaxed` overrides the choice of build (default: relaxed SIMD where the engine has it,
 * unless MM_WASM_RELAXED_SIMD=0).
 */
export function createSimdModule(
  memory: WasmMemory,
  options: { threads?: number; relaxed?: boolean; env?: Record<string, string | undefined> } = {},
): SimdModule {
  const shared = typeof SharedArrayBuffer !== 'undefined' && memory.buffer instanceof SharedArrayBuffer;
  const env = options.env;
  const relaxed = options.relaxed ?? wantRelaxed(env ? (name) => env[name] : host.env);
  if (relaxed && !relaxedSimdAvailable()) throw new Error('relaxed SIMD was requested but this engine does not run it');
  const compiled = new webAssembly.Module(variantBytes(relaxed, shared));
  const exports = new webAssembly.Instance(compiled, { env: { memory } }).exports as unknown as ModuleExports;
  const threads = shared && host.canBlock ? Math.max(1, Math.floor(options.threads ?? 1)) : 1;

  // Only a pool needs the control block (and SharedArrayBuffer, absent from pages that are not cross-origin isolated).
  const control = new Int32Array(threads > 1 ? new SharedArrayBuffer((ARGS + MAX_ARG_SLOTS) * 4) : new ArrayBuffer(0));
  // No chunk is open until the first job: NEXT starts beyond any chunk count.
  if (threads > 1) control[NEXT] = 0x3fffffff;
  for (let i = 1; i < threads; i++) {
    host.startPoolThread(POOL_LOOP, { module: compiled, memory, control: control.buffer as SharedArrayBuffer, names: FUNCTIONS });
  }

  const call = (name: SimdFunction, args: readonly number[]): void => {
    exports[name](...args);
  };

  const split = (name: SimdFunction, parts: number, argsOf: (part: number) => readonly number[]): void => {
    if (threads === 1 || parts === 1) {
      for (let part = 0; part < parts; part++) call(name, argsOf(part));
      return;
    }
    const first = argsOf(0);
    const argc = first.length;
    if (parts * argc > MAX_ARG_SLOTS) throw new Error(`${name}: ${parts} parts of ${argc} arguments exceed the pool's ${MAX_ARG_SLOTS} slots`);
    control[FUNCTION] = FUNCTIONS.indexOf(name);
    control[ARG_COUNT] = argc;
    for (let part = 0; part < parts; part++) {
      const args = part === 0 ? first : argsOf(part);
      if (args.length !== argc) throw new Error(`${name}: every part needs the same number of arguments`);
      control.set(args, ARGS + part * argc);
    }
    Atomics.store(control, CHUNKS, parts);
    Atomics.store(control, FINISHED, 0);
    Atomics.store(control, NEXT, 0);
    Atomics.add(control, SEQ, 1);
    Atomics.notify(control, SEQ);
    let failed: unknown;
    for (let chunk = Atomics.add(control, NEXT, 1); chunk < parts; chunk = Atomics.add(control, NEXT, 1)) {
      try {
        call(name, control.subarray(ARGS + chunk * argc, ARGS + (chunk + 1) * argc) as unknown as number[]);
      } catch (error) {
        failed = error;
      }
      Atomics.add(control, FINISHED, 1);
    }
    for (let done = Atomics.load(control, FINISHED); done < parts; done = Atomics.load(control, FINISHED)) {
      Atomics.wait(control, FINISHED, done, 100);
    }
    // Closed until the next job, so that a late claim finds nothing.
    Atomics.store(control, NEXT, 0x3fffffff);
    if (failed !== undefined) throw failed;
    if (Atomics.exchange(control, FAILED, 0) !== 0) throw new Error(`${name} failed on a @mm/backend pool thread (a wasm trap: bad offsets or sizes)`);
  };

  return { relaxed, threads, call, split };
}

/** [start, end) of part `part` of `parts` over `total` items, part sizes rounded up to `align`. */
export function partOf(total: number, parts: number, part: number, align = 1): [number, number] {
  const per = Math.ceil(total / parts / align) * align;
  return [Math.min(total, part * per), Math.min(total, (part + 1) * per)];
}

/**
 * How many chunks a split call cuts `items` into: four per thread, so that a worker that starts
 * late leaves its share to the others, and at least `minPerChunk` items each. One without a pool.
 */
export function chunkCount(module: SimdModule, items: number, minPerChunk = 1): number {
  if (module.threads === 1) return 1;
  return Math.max(1, Math.min(module.threads * 4, Math.floor(items / minPerChunk)));
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
  if (host.env(SIMD_KERNELS_ENV_VAR)?.trim() !== 'xnnpack') {
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
