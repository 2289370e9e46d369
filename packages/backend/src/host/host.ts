/**
 * What the kernels need from the JavaScript host that differs between Node and a browser.
 * `#kernel-host` (package.json `imports`) resolves to `node.ts` or, under the `browser`
 * condition, to `browser.ts`, so the kernels themselves import no `node:` module.
 */
export interface KernelHost {
  /** A configuration variable: `process.env` in Node; a browser has none (always undefined). */
  env(name: string): string | undefined;
  /** Lets the engine compile relaxed SIMD where it has it behind a flag (Node 20's V8); a no-op elsewhere. */
  allowRelaxedSimd(): void;
  /**
   * Whether this thread may block in `Atomics.wait`, which the kernel module's pool needs on the
   * calling thread: true in Node and in a worker, false on a page's main thread.
   */
  readonly canBlock: boolean;
  /**
   * Starts one pool thread that evaluates `loopSource` (a function expression) and calls it
   * with `data` (the compiled module, the shared memory, the control block, the function
   * names). The thread must never keep the process alive.
   */
  startPoolThread(loopSource: string, data: PoolThreadData): void;
  /**
   * tfjs-core's CommonJS exports object, the one tfjs-layers reads its functions from, when it
   * can be patched; undefined where tfjs-core is an ES module (its namespace is frozen).
   */
  tfjsCoreExports(): Record<string, unknown> | undefined;
}

export interface PoolThreadData {
  module: object;
  memory: object;
  control: SharedArrayBuffer;
  names: readonly string[];
}
