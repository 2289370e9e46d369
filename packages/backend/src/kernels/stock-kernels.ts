import { getKernel, type KernelFunc, type NamedAttrMap, type NamedTensorInfoMap, type TensorInfo } from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

/**
 * The one way this package calls a wasm kernel from inside another kernel: directly (no tape,
 * no profiler entry), on the backend, with TensorInfo inputs.
 *
 * - `runStockWasmKernel`: tfjs-backend-wasm's own implementation, even where
 *   `registerWasmTrainingKernels` replaced it. A replacement falls back to the kernel it replaces
 *   this way (calling the registered one would call itself).
 * - `runRegisteredWasmKernel`: whatever is registered under the name now, i.e. this package's
 *   replacement when one is registered (BatchMatMul in the module for N a multiple of 8), else
 *   the stock kernel.
 */

/**
 * The tfjs-backend-wasm kernels that `registerWasmTrainingKernels` replaced, by name (filled
 * and cleared by register-wasm.ts).
 */
export const stockWasmKernels = new Map<string, KernelFunc>();

function run(kernelFunc: KernelFunc | undefined, kernelName: string, backend: BackendWasm, inputs: NamedTensorInfoMap, attrs: NamedAttrMap): TensorInfo {
  if (kernelFunc === undefined) {
    throw new Error(`wasm kernel ${kernelName} is not registered; is @tensorflow/tfjs-backend-wasm loaded and set up?`);
  }
  return kernelFunc({ inputs, backend, attrs }) as TensorInfo;
}

/** Runs tfjs-backend-wasm's own `kernelName` (the stock one even if this package replaced it). */
export function runStockWasmKernel(backend: BackendWasm, kernelName: string, inputs: NamedTensorInfoMap, attrs: NamedAttrMap = {}): TensorInfo {
  return run(stockWasmKernels.get(kernelName) ?? getKernel(kernelName, 'wasm')?.kernelFunc, kernelName, backend, inputs, attrs);
}

/** Runs the `kernelName` registered for wasm now (this package's replacement, if registered). */
export function runRegisteredWasmKernel(backend: BackendWasm, kernelName: string, inputs: NamedTensorInfoMap, attrs: NamedAttrMap = {}): TensorInfo {
  return run(getKernel(kernelName, 'wasm')?.kernelFunc, kernelName, backend, inputs, attrs);
}
