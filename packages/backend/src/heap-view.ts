import type { EmscriptenHeap } from './tfjs-internals.js';

/**
 * BackendWasm reads `module.HEAPU8` directly. With shared memory, growth by a worker thread
 * does not refresh the main thread's views, and a stale view silently truncates reads; this
 * getter re-creates the view whenever the memory has grown. Idempotent.
 */
export function keepHeapViewCurrent(module: EmscriptenHeap): void {
  if (Object.getOwnPropertyDescriptor(module, 'HEAPU8')?.get !== undefined) return;
  let view = module.HEAPU8;
  Object.defineProperty(module, 'HEAPU8', {
    configurable: true,
    get: () => {
      const buffer = module.wasmMemory.buffer;
      if (view.byteLength !== buffer.byteLength) view = new Uint8Array(buffer);
      return view;
    },
    set: (next: Uint8Array) => {
      view = next;
    },
  });
}
