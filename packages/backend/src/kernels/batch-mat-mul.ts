import { BatchMatMul, util, type KernelConfig, type KernelFunc, type TensorInfo } from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { heapByteOffset, heapF32, transposeMatrix, wholeHeapF32 } from './wasm-util.js';
import { runStockWasmKernel } from './stock-kernels.js';
import { rowProductArgs } from './conv2d-simd.js';
import { chunkCount, partOf, simdModuleFor, type SimdModule } from './simd/simd-module.js';
import { batchMatMulPath, MATMUL_THRESHOLDS } from './kernel-paths.js';

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
  for (let b = 0; b < batch; b++) transposeMatrix(src, b * size, rows, cols, dst, b * size);
  return out;
}

/** The product's sizes: a [...batch, m, k] · b [...batch, k, n], after the transposes asked for. */
interface MatMulShape {
  rank: number;
  batchShape: number[];
  m: number;
  k: number;
  n: number;
  /** b has a's rank and batch shape. */
  sameRankAndBatch: boolean;
  /** b's inner dimension is a's k. */
  innerMatches: boolean;
}

function matMulShape(a: TensorInfo, b: TensorInfo, transposeA: boolean, transposeB: boolean): MatMulShape {
  const rank = a.shape.length;
  const batchShape = a.shape.slice(0, rank - 2);
  const [rowsA, colsA] = a.shape.slice(rank - 2);
  const [rowsB, colsB] = b.shape.slice(rank - 2);
  const [m, k] = transposeA ? [colsA, rowsA] : [rowsA, colsA];
  return {
    rank: Math.min(rank, b.shape.length),
    batchShape,
    m,
    k,
    n: transposeB ? rowsB : colsB,
    sameRankAndBatch: b.shape.length === rank && util.arraysEqual(batchShape, b.shape.slice(0, rank - 2)),
    innerMatches: (transposeB ? colsB : rowsB) === k,
  };
}

/**
 * a·b in the kernel module: b packed once ([N/8][K][8], transposed on the way if asked), then
 * conv2d as a 1×1 convolution over the rows of a (transposed first if asked), rows split
 * across the wasm threads. XNNPACK, as tfjs-backend-wasm drives it, repacks b on every call
 * and runs ≈4 GFLOP/s on the MMTM layers' 128×128 products. For batchMatMulPath's 'module' row.
 */
function matMulInModule(
  wasm: BackendWasm,
  module: SimdModule,
  a: TensorInfo,
  b: TensorInfo,
  { batchShape, m, k, n }: MatMulShape,
  transposeA: boolean,
  transposeB: boolean,
): TensorInfo {
  const batch = util.sizeFromShape(batchShape);
  const out = wasm.makeOutput([...batchShape, m, n], 'float32');
  const packed = wasm.makeOutput([k * n], 'float32');
  const rowsOfA = transposeA ? wasm.makeOutput([m * k], 'float32') : undefined;
  const parts = chunkCount(module, m, MATMUL_THRESHOLDS.minRowsPerChunk);
  // Per chunk: conv2d's 4 row pointers; then K zeros.
  const slots = 4;
  const scratch = wasm.makeOutput([parts * slots + k], 'float32');
  const at = (t: TensorInfo) => heapByteOffset(wasm, t);
  const zerosAt = at(scratch) + parts * slots * 4;
  wholeHeapF32(wasm).fill(0, zerosAt / 4, zerosAt / 4 + k);
  for (let i = 0; i < batch; i++) {
    const aAt = at(a) + i * m * k * 4;
    let rowsAt = aAt;
    if (rowsOfA !== undefined) {
      module.call('transpose_2d', { src: aAt, dst: at(rowsOfA), rows: k, cols: m, r0: 0, r1: k });
      rowsAt = at(rowsOfA);
    }
    module.call('pack_matrix', { b: at(b) + i * k * n * 4, packed: at(packed), K: k, N: n, transposed: transposeB ? 1 : 0 });
    const outAt = at(out) + i * m * n * 4;
    module.split('conv2d', parts, rowProductArgs(zerosAt, k, n), (part) => {
      const [p0, p1] = partOf(m, parts, part, 4);
      return { x: rowsAt, packed: at(packed), out: outAt, ptrs: at(scratch) + part * slots * 4, p0, p1 };
    });
  }
  for (const t of [packed, scratch, ...(rowsOfA ? [rowsOfA] : [])]) wasm.disposeData(t.dataId);
  return out;
}

/**
 * Stock tfjs-backend-wasm 4.22 multiplies 20–25× slower when asked to transpose an operand
 * (128×128×128: ≈4 ms against 0.2 ms) — and every Dense layer's gradient asks for that
 * (dW = xᵀ·dy, dx = dy·Wᵀ). Outside the module, transposing the operand first and running the
 * plain stock (XNNPACK) product is far cheaper. Paths: batchMatMulPath in kernel-paths.ts.
 */
export const batchMatMulWasm: KernelFunc = ({ inputs, backend, attrs }) => {
  const wasm = backend as BackendWasm;
  const { a, b } = inputs as { a: TensorInfo; b: TensorInfo };
  const { transposeA, transposeB } = attrs as unknown as BatchMatMulAttrs;
  const module = simdModuleFor(wasm);
  const shape = matMulShape(a, b, transposeA, transposeB);
  const float32 = a.dtype === 'float32' && b.dtype === 'float32';
  switch (batchMatMulPath({ module: module !== null, float32, ...shape, transposeA, transposeB })) {
    case 'module':
      return matMulInModule(wasm, module!, a, b, shape, transposeA, transposeB);
    case 'stock':
      return runStockWasmKernel(wasm, BatchMatMul, inputs, attrs);
    case 'transpose-then-stock': {
      const aIn = transposeA ? transposeLastTwo(wasm, a) : a;
      const bIn = transposeB ? transposeLastTwo(wasm, b) : b;
      const out = runStockWasmKernel(wasm, BatchMatMul, { a: aIn, b: bIn }, { ...attrs, transposeA: false, transposeB: false });
      if (aIn !== a) wasm.disposeData(aIn.dataId);
      if (bIn !== b) wasm.disposeData(bIn.dataId);
      return out;
    }
  }
};

export const batchMatMulWasmConfig: KernelConfig = { kernelName: BatchMatMul, backendName: 'wasm', kernelFunc: batchMatMulWasm };
