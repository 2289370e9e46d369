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

/** Offset of a tensor's data in the wasm heap, in bytes (the pointer a wasm kernel takes). */
export function heapByteOffset(backend: BackendWasm, tensor: TensorInfo): number {
  const entry = (backend as unknown as { dataIdMap: { get(id: object): { memoryOffset: number } } }).dataIdMap.get(tensor.dataId);
  return entry.memoryOffset;
}

/** Offset of a tensor's data in the wasm heap, in float32 elements. */
export function heapFloatOffset(backend: BackendWasm, tensor: TensorInfo): number {
  return heapByteOffset(backend, tensor) / 4;
}

/** A float32 view of the whole wasm heap, for copies between tensors. Take it again after any allocation. */
export function wholeHeapF32(backend: BackendWasm): Float32Array {
  return new Float32Array((backend as unknown as { wasm: { HEAPU8: Uint8Array } }).wasm.HEAPU8.buffer);
}
