/**
 * How many threads the wasm backend runs on, as set up by `initBackend` (1 = single-threaded).
 * The kernel module sizes its pool from it; kept apart from the Node-only loader of the
 * threaded build so that browser code can read and set it too.
 */
let threadsInUse = 1;

/** Threads of the wasm backend set up by `initBackend` (1 when it is the single-threaded build). */
export function wasmThreadsInUse(): number {
  return threadsInUse;
}

/** Records the thread count of the wasm backend now in use. */
export function setWasmThreadsInUse(threads: number): void {
  threadsInUse = threads;
}
