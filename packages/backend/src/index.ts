export {
  initBackend,
  backendAttempts,
  BACKEND_PREFERENCE,
  BACKEND_ENV_VAR,
  type BackendChoice,
  type BackendAttempt,
  type InitBackendOptions,
} from './init-backend.js';
export {
  registerWasmTrainingKernels,
  restoreStockWasmKernels,
  type RegisterWasmTrainingKernelsOptions,
} from './kernels/register-wasm.js';
export { wasmThreadsInUse, WASM_THREADS_ENV_VAR, MAX_WASM_THREADS } from './wasm-threads.js';
