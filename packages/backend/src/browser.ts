// The browser build of @mm/backend (the `browser` export condition, or `@mm/backend/browser`):
// the same kernels, a backend choice for browsers, no Node.js module anywhere in its graph.
export {
  initBackend,
  backendAttempts,
  BACKEND_PREFERENCE,
  type BackendChoice,
  type BackendAttempt,
  type InitBackendOptions,
  type WasmBinaryName,
} from './browser/init-backend.js';
export {
  registerWasmTrainingKernels,
  restoreStockWasmKernels,
  type RegisterWasmTrainingKernelsOptions,
} from './kernels/register-wasm.js';
export { wasmThreadsInUse } from './wasm-thread-count.js';
