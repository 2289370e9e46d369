import { BatchMatMul, type KernelConfig, type KernelFunc, type TensorInfo } from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { heapF32, runWasmKernel } from './wasm-util.js';

interface BatchMatMulAttrs {
  transposeA: boolean;
  transposeB: boolean;
}

/** Swaps the last two axes of a float32 tensor into a new wasm tensor. */
function transposeLastTwo(wasm: BackendWasm, x: TensorInfo): TensorInfo {
  const rank = x.shape.length;
  const rows = x.shape[rank - 2];
  const cols = x.shape[rank - 1];
  const batch = x.shape.slice(0, rank - 2).reduce((a, b) => a * b, 1);
  const out = wasm.makeOutput([...x.shape.slice(0, rank - 2), cols, rows], 'float32');
  // Views after the allocation: growing the heap replaces its buffer.
  const src = heapF32(wasm, x);
  const dst = heapF32(wasm, out);
  const size = rows * cols;
  for (let b = 0; b < batch; b++) {
    const base = b * size;
    for (let r = 0; r < rows; r++) {
      const from = base + r * cols;
      for (let c = 0; c < cols; c++) dst[base + c * rows + r] = src[from + c];
    }
  }
  return out;
}

/**
 * Stock tfjs-backend-wasm 4.22 multiplies 20–25× slower when asked to transpose an operand
 * (128×128×128: ≈4 ms against 0.2 ms) — and every Dense layer's gradient asks for that
 * (dW = xᵀ·dy, dx = dy·Wᵀ). Transposing the operand first and running the plain product is
 * far cheaper; the product itself is the stock (XNNPACK) kernel.
 */
export const batchMatMulWasm: KernelFunc = ({ inputs, backend, attrs }) => {
  const wasm = backend as BackendWasm;
  const { a, b } = inputs as { a: TensorInfo; b: TensorInfo };
  const { transposeA, transposeB } = attrs as unknown as BatchMatMulAttrs;
  if ((!transposeA && !transposeB) || a.dtype !== 'float32' || b.dtype !== 'float32' || a.shape.length < 2 || b.shape.length < 2) {
    return runWasmKernel(wasm, BatchMatMul, inputs, attrs);
  }
  const aIn = transposeA ? transposeLastTwo(wasm, a) : a;
  const bIn = transposeB ? transposeLastTwo(wasm, b) : b;
  const out = runWasmKernel(wasm, BatchMatMul, { a: aIn, b: bIn }, { ...attrs, transposeA: false, transposeB: false });
  if (aIn !== a) wasm.disposeData(aIn.dataId);
  if (bIn !== b) wasm.disposeData(bIn.dataId);
  return out;
};

export const batchMatMulWasmConfig: KernelConfig = { kernelName: BatchMatMul, backendName: 'wasm', kernelFunc: batchMatMulWasm };
