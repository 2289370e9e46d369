import { backend_util, Mean, Sum, util, type KernelConfig, type KernelFunc, type TensorInfo } from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { heapByteOffset, heapF32, wholeHeapF32 } from './wasm-util.js';
import { runStockWasmKernel } from './stock-kernels.js';
import { chunkCount, partOf, simdModuleFor, type SimdModule } from './simd/simd-module.js';
import { CHUNKS_PER_THREAD, reducePath, REDUCE_THRESHOLDS } from './kernel-paths.js';

/**
 * x as [outer, reduce, inner] for a reduction over `axes`, when they form one contiguous block
 * that does not include the innermost axis (per-channel statistics of NHWC activations); else null.
 */
function middleAxisView(shape: number[], axes: number[]): { outer: number; reduce: number; inner: number } | null {
  const sorted = [...axes].sort((a, b) => a - b);
  const first = sorted[0];
  const last = sorted[sorted.length - 1];
  if (sorted.length === 0 || !sorted.every((a, i) => a === first + i) || last === shape.length - 1) return null;
  return {
    outer: util.sizeFromShape(shape.slice(0, first)),
    reduce: util.sizeFromShape(shape.slice(first, last + 1)),
    inner: util.sizeFromShape(shape.slice(last + 1)),
  };
}

interface ReduceAttrs {
  axis: number | number[];
  keepDims: boolean;
}

/**
 * Sum / Mean over a contiguous block of axes that are not the innermost ones (per-channel sums
 * of NHWC activations, global average pooling: the reductions of batch-norm, bias and broadcast
 * gradients). Stock tfjs-backend-wasm 4.22 first transposes the whole input so that the reduced
 * axes come last, which costs more than the sum itself. Here x is viewed as [outer, reduce,
 * inner]: large inputs are summed by the kernel module (`sumMiddle`); without it, or below its
 * size threshold, the mean is one reduce×1 XNNPACK average pooling of x as an image batch
 * [outer, reduce, 1, inner] (Sum scales the small result back by `reduce`). Innermost
 * reductions, scattered axes and non-float32 inputs go to the stock kernel, which handles them well.
 */
function makeReduce(kernelName: typeof Sum | typeof Mean): KernelFunc {
  return ({ inputs, backend, attrs }) => {
    const wasm = backend as BackendWasm;
    const { x } = inputs as { x: TensorInfo };
    const { axis, keepDims } = attrs as unknown as ReduceAttrs;
    const axes = util.parseAxisParam(axis, x.shape).sort((a, b) => a - b);
    const view = middleAxisView(x.shape, axes);
    const float32 = x.dtype === 'float32';
    const size = util.sizeFromShape(x.shape);
    const module = float32 && view !== null && size !== 0 ? simdModuleFor(wasm) : null;
    const { outer, reduce, inner } = view ?? { outer: 0, reduce: 0, inner: 0 };
    const path = reducePath({ float32, middleAxes: view !== null, size, module: module !== null, outer, reduce, inner });
    if (path === 'stock') return runStockWasmKernel(wasm, kernelName, inputs, attrs);
    const [outShape] = backend_util.computeOutAndReduceShapes(x.shape, axes);
    const finalShape = keepDims ? backend_util.expandShapeToKeepDim(outShape, axes) : outShape;
    if (path === 'module') return sumMiddle(wasm, module!, x, outer, reduce, inner, finalShape, kernelName === Mean ? 1 / reduce : 1);
    // A TensorInfo is only a view (dataId + shape), so x can be fed as [outer, reduce, 1, inner] without a copy.
    const x4d: TensorInfo = { dataId: x.dataId, shape: [outer, reduce, 1, inner], dtype: 'float32' };
    const out = runStockWasmKernel(wasm, 'AvgPool', { x: x4d }, { filterSize: [reduce, 1], strides: [1, 1], pad: 'valid' });
    if (kernelName === Sum) {
      const values = heapF32(wasm, out);
      for (let i = 0; i < values.length; i++) values[i] *= reduce;
    }
    out.shape = finalShape;
    return out;
  };
}

/**
 * Σ over the middle axis of x as [outer, reduce, inner] in the kernel module, times `scale`.
 * Threads take whole output rows when there are enough of them; otherwise each sums a slice of
 * the reduced axis into its own partial row and the partials are added here.
 */
function sumMiddle(
  wasm: BackendWasm,
  module: SimdModule,
  x: TensorInfo,
  outer: number,
  reduce: number,
  inner: number,
  shape: number[],
  scale: number,
  center?: TensorInfo,
  other?: TensorInfo,
): TensorInfo {
  const byRows = outer >= module.threads * CHUNKS_PER_THREAD;
  const parts = byRows ? chunkCount(module, outer) : chunkCount(module, reduce, REDUCE_THRESHOLDS.minReducedRowsPerChunk);
  const out = wasm.makeOutput(shape, 'float32');
  // When splitting the reduced axis: one partial result per part.
  const partialSize = byRows ? 0 : outer * inner;
  const scratch = wasm.makeOutput([Math.max(1, parts * partialSize)], 'float32');
  const xAt = heapByteOffset(wasm, x);
  const outAt = heapByteOffset(wasm, out);
  const scratchAt = heapByteOffset(wasm, scratch);
  const partialAt = (part: number) => scratchAt + part * partialSize * 4;
  const centerAt = center === undefined ? 0 : heapByteOffset(wasm, center);
  const otherAt = other === undefined ? 0 : heapByteOffset(wasm, other);
  module.split('sum_middle', parts, { x: xAt, other: otherAt, center: centerAt, reduce, inner }, (part) => {
    if (byRows) {
      const [o0, o1] = partOf(outer, parts, part);
      return { out: outAt + o0 * inner * 4, o0, o1, rStart: 0, rEnd: reduce };
    }
    const [rStart, rEnd] = partOf(reduce, parts, part);
    return { out: partialAt(part), o0: 0, o1: outer, rStart, rEnd };
  });
  const heap = wholeHeapF32(wasm);
  const outIndex = outAt / 4;
  if (byRows) {
    if (scale !== 1) for (let i = 0; i < outer * inner; i++) heap[outIndex + i] *= scale;
  } else {
    for (let i = 0; i < outer * inner; i++) {
      let total = 0;
      for (let part = 0; part < parts; part++) total += heap[partialAt(part) / 4 + i];
      heap[outIndex + i] = Math.fround(total) * scale;
    }
  }
  wasm.disposeData(scratch.dataId);
  return out;
}

/** Kernels of this package behind the batch-norm statistics and their gradient (wasm only). */
export const MEAN_SQUARED_DEVIATION = 'MmMeanSquaredDeviation';
export const SUM_CENTERED_PRODUCT = 'MmSumCenteredProduct';

/**
 * Over a leading, contiguous block of axes of x, given `center` with those axes kept as 1:
 * mean((x − center)²) (the batch-norm variance), or with `other` (shaped as x) Σ other·(x − center)
 * (its gradient's Σ dy·(x − mean)), each in one read-only pass. Undefined when the module
 * cannot run it.
 */
function centeredReductionWasm(wasm: BackendWasm, x: TensorInfo, center: TensorInfo, axes: number[], other?: TensorInfo): TensorInfo | undefined {
  const module = simdModuleFor(wasm);
  const view = middleAxisView(x.shape, axes);
  if (module === null || view === null || x.dtype !== 'float32' || center.dtype !== 'float32') return undefined;
  if (other !== undefined && (other.dtype !== 'float32' || !util.arraysEqual(other.shape, x.shape))) return undefined;
  const { outer, reduce, inner } = view;
  if (util.sizeFromShape(center.shape) !== outer * inner || reduce === 0) return undefined;
  return sumMiddle(wasm, module, x, outer, reduce, inner, [...center.shape], other === undefined ? 1 / reduce : 1, center, other);
}

const meanSquaredDeviationKernel: KernelFunc = ({ inputs, backend, attrs }) => {
  const wasm = backend as BackendWasm;
  const { x, mean } = inputs as { x: TensorInfo; mean: TensorInfo };
  const { axes } = attrs as unknown as { axes: number[] };
  const out = centeredReductionWasm(wasm, x, mean, axes);
  if (out !== undefined) return out;
  // Shapes the module does not take: the same formula through stock kernels.
  const centred = runStockWasmKernel(wasm, 'Sub', { a: x, b: mean });
  const squared = runStockWasmKernel(wasm, 'Square', { x: centred });
  // This package's Mean (XNNPACK AvgPool without the module), not the stock one that transposes first.
  const variance = meanWasm({ inputs: { x: squared }, backend: wasm, attrs: { axis: axes, keepDims: true } }) as TensorInfo;
  wasm.disposeData(centred.dataId);
  wasm.disposeData(squared.dataId);
  return variance;
};

/** Σ dy·(x − mean) over `axes`, shaped as `mean`. */
const sumCenteredProductKernel: KernelFunc = ({ inputs, backend, attrs }) => {
  const wasm = backend as BackendWasm;
  const { x, dy, mean } = inputs as { x: TensorInfo; dy: TensorInfo; mean: TensorInfo };
  const { axes } = attrs as unknown as { axes: number[] };
  const out = centeredReductionWasm(wasm, x, mean, axes, dy);
  if (out !== undefined) return out;
  const centred = runStockWasmKernel(wasm, 'Sub', { a: x, b: mean });
  const product = runStockWasmKernel(wasm, 'Multiply', { a: dy, b: centred });
  const total = sumWasm({ inputs: { x: product }, backend: wasm, attrs: { axis: axes, keepDims: true } }) as TensorInfo;
  wasm.disposeData(centred.dataId);
  wasm.disposeData(product.dataId);
  total.shape = [...mean.shape];
  return total;
};

export const meanSquaredDeviationWasmConfig: KernelConfig = { kernelName: MEAN_SQUARED_DEVIATION, backendName: 'wasm', kernelFunc: meanSquaredDeviationKernel };
export const sumCenteredProductWasmConfig: KernelConfig = { kernelName: SUM_CENTERED_PRODUCT, backendName: 'wasm', kernelFunc: sumCenteredProductKernel };

export const sumWasm = makeReduce(Sum);
export const meanWasm = makeReduce(Mean);
export const sumWasmConfig: KernelConfig = { kernelName: Sum, backendName: 'wasm', kernelFunc: sumWasm };
export const meanWasmConfig: KernelConfig = { kernelName: Mean, backendName: 'wasm', kernelFunc: meanWasm };
