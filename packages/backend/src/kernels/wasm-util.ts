import type { TensorInfo } from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { wasmHeapBuffer } from '../tfjs-internals.js';

/** A float32 view of a tensor's data in the wasm heap. Take it again after any allocation (the heap may grow). */
export function heapF32(backend: BackendWasm, tensor: TensorInfo): Float32Array {
  return backend.typedArrayFromHeap(tensor) as Float32Array;
}

/** Offset of a tensor's data in the wasm heap, in bytes (the pointer a wasm kernel takes). */
export function heapByteOffset(backend: BackendWasm, tensor: TensorInfo): number {
  return backend.getMemoryOffset(tensor.dataId);
}

/** Offset of a tensor's data in the wasm heap, in float32 elements. */
export function heapFloatOffset(backend: BackendWasm, tensor: TensorInfo): number {
  return heapByteOffset(backend, tensor) / 4;
}

/** A float32 view of the whole wasm heap, for copies between tensors. Take it again after any allocation. */
export function wholeHeapF32(backend: BackendWasm): Float32Array {
  return new Float32Array(wasmHeapBuffer(backend));
}

/** Throws the error a kernel of this package gives for a dtype it does not take (no stock kernel to fall back to). */
export function requireFloat32(kernel: string, ...tensors: TensorInfo[]): void {
  for (const t of tensors) {
    if (t.dtype !== 'float32') throw new Error(`${kernel} (wasm, @mm/backend) supports float32 only, got ${t.dtype}.`);
  }
}

/** dst[dstAt + j·rows + i] = src[srcAt + i·cols + j]: a [rows, cols] matrix transposed, in JS. */
export function transposeMatrix(src: Float32Array, srcAt: number, rows: number, cols: number, dst: Float32Array, dstAt = 0): void {
  for (let i = 0; i < rows; i++) {
    const from = srcAt + i * cols;
    for (let j = 0; j < cols; j++) dst[dstAt + j * rows + i] = src[from + j];
  }
}

/** Copies rows [start, start + count) of a [rows, cols] float32 tensor to the start of `to`. */
export function copyRows(backend: BackendWasm, from: TensorInfo, start: number, count: number, cols: number, to: TensorInfo): void {
  const heap = wholeHeapF32(backend);
  const at = heapFloatOffset(backend, from) + start * cols;
  heap.copyWithin(heapFloatOffset(backend, to), at, at + count * cols);
}

/** Rows [start, start + count) of a [rows, cols] float32 tensor, copied into a new [count, cols] tensor. */
export function sliceRows(backend: BackendWasm, from: TensorInfo, start: number, count: number, cols: number): TensorInfo {
  const out = backend.makeOutput([count, cols], 'float32');
  copyRows(backend, from, start, count, cols, out);
  return out;
}
