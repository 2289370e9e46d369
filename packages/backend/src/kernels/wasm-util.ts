import { getKernel, type KernelFunc, type NamedAttrMap, type NamedTensorInfoMap, type TensorInfo } from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

/**
 * The tfjs-backend-wasm kernels that `registerWasmTrainingKernels` replaced, by name. The fast
 * kernels fall back to (or build on) these, so they must call the stock implementation even
 * after their own registration took the name.
 */
export const stockWasmKernels = new Map<string, KernelFunc>();

/** Runs a wasm kernel directly (no tape, no profiler entry): the stock one if it was replaced. */
export function runWasmKernel(
  backend: BackendWasm,
  kernelName: string,
  inputs: NamedTensorInfoMap,
  attrs: NamedAttrMap = {},
): TensorInfo {
  const kernelFunc = stockWasmKernels.get(kernelName) ?? getKernel(kernelName, 'wasm')?.kernelFunc;
  if (kernelFunc === undefined) {
    throw new Error(`wasm kernel ${kernelName} is not registered; is @tensorflow/tfjs-backend-wasm loaded and set up?`);
  }
  return kernelFunc({ inputs, backend, attrs }) as TensorInfo;
}

/** A float32 view of a tensor's data in the wasm heap. Take it again after any allocation (the heap may grow). */
export function heapF32(backend: BackendWasm, tensor: TensorInfo): Float32Array {
  return backend.typedArrayFromHeap(tensor) as Float32Array;
}
