import {
  backend_util,
  Conv2DBackpropFilter,
  type KernelConfig,
  type KernelFunc,
  type TensorInfo,
} from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { heapFloatOffset, requireFloat32, sliceRows, wholeHeapF32 } from './wasm-util.js';
import { runRegisteredWasmKernel, runStockWasmKernel } from './stock-kernels.js';
import { conv2DFilterGradientSimd } from './conv2d-simd.js';
import { conv2DFilterGradientPath, FILTER_GRADIENT_THRESHOLDS } from './kernel-paths.js';
import { simdModuleFor } from './simd/simd-module.js';

const MAX_COLUMN_FLOATS = FILTER_GRADIENT_THRESHOLDS.maxColumnFloats;

interface Conv2DBackpropFilterAttrs {
  strides: [number, number] | number;
  pad: 'valid' | 'same' | number | backend_util.ExplicitPadding;
  dataFormat: 'NHWC' | 'NCHW';
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
  filterShape: [number, number, number, number];
}

/**
 * dW[kh, kw, ci, co] = Σ_{n, oh, ow} x[n, oh·sh + kh − padTop, ow·sw + kw − padLeft, ci] · dy[n, oh, ow, co]
 *
 * Computed as one matrix product per batch chunk: the transposed im2col matrix of x
 * ([KH·KW·Ci, rows]) times dy viewed as [rows, Co], run by wasm's own BatchMatMul kernel so
 * the heavy part stays in XNNPACK-compiled code. The result's row-major layout is already
 * the HWIO filter layout.
 */
export const conv2DBackpropFilterWasm: KernelFunc = ({ inputs, backend, attrs }) => {
  const wasm = backend as BackendWasm;
  const { x, dy } = inputs as { x: TensorInfo; dy: TensorInfo };
  const { strides, pad, dataFormat, dimRoundingMode, filterShape } = attrs as unknown as Conv2DBackpropFilterAttrs;
  requireFloat32('Conv2DBackpropFilter', x, dy);
  const info = backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number],
    filterShape,
    strides,
    1,
    pad,
    dimRoundingMode,
    false,
    backend_util.convertConv2DDataFormat(dataFormat),
  );
  const { batchSize, inHeight, inWidth, inChannels, outHeight, outWidth, outChannels } = info;
  const { filterHeight, filterWidth, strideHeight, strideWidth } = info;
  const padTop = info.padInfo.top;
  const padLeft = info.padInfo.left;
  const channelsLast = dataFormat !== 'NCHW';

  const module = channelsLast ? simdModuleFor(wasm) : null;
  const path = conv2DFilterGradientPath({
    channelsLast, module: module !== null, inChannels, outChannels, strideWidth, outWidth,
    swappedPaddingNonNegative: swappedConvolutionPadding(info) !== undefined,
  });
  switch (path) {
    case 'module-as-convolution':
    case 'module-direct':
      return conv2DFilterGradientSimd(wasm, module!, x, dy, info, path);
    case 'xnnpack-im2col':
      return filterGradientAsProduct(wasm, x, dy, info);
    case 'xnnpack-swapped-conv':
      return filterGradientAsConvolution(wasm, x, dy, info, swappedConvolutionPadding(info)!);
    case 'js-im2col':
      break;
  }

  const k = filterHeight * filterWidth * inChannels;
  const rowsPerSample = outHeight * outWidth;
  const samplesPerChunk = Math.max(1, Math.min(batchSize, Math.floor(MAX_COLUMN_FLOATS / (k * rowsPerSample))));
  const result = wasm.makeOutput(filterShape, 'float32');
  const partialSum = new Float32Array(k * outChannels);

  // The input strides for x and dy in each data format, so NCHW needs no transposed copy.
  const xs = channelsLast
    ? { n: inHeight * inWidth * inChannels, h: inWidth * inChannels, w: inChannels, c: 1 }
    : { n: inChannels * inHeight * inWidth, h: inWidth, w: 1, c: inHeight * inWidth };
  const dys = channelsLast
    ? { n: rowsPerSample * outChannels, h: outWidth * outChannels, w: outChannels, c: 1 }
    : { n: outChannels * rowsPerSample, h: outWidth, w: 1, c: rowsPerSample };

  for (let n0 = 0; n0 < batchSize; n0 += samplesPerChunk) {
    const samples = Math.min(samplesPerChunk, batchSize - n0);
    const rows = samples * rowsPerSample;
    const colsT = wasm.makeOutput([1, k, rows], 'float32');
    const dyRows = wasm.makeOutput([1, rows, outChannels], 'float32');
    // Heap views are taken after every allocation above: growing the wasm memory detaches older views.
    const xData = wasm.typedArrayFromHeap(x) as Float32Array;
    const dyData = wasm.typedArrayFromHeap(dy) as Float32Array;
    const colsData = wasm.typedArrayFromHeap(colsT) as Float32Array;
    const dyRowsData = wasm.typedArrayFromHeap(dyRows) as Float32Array;

    for (let s = 0; s < samples; s++) {
      const xBase = (n0 + s) * xs.n;
      const dyBase = (n0 + s) * dys.n;
      const rowBase = s * rowsPerSample;
      for (let oh = 0; oh < outHeight; oh++) {
        for (let ow = 0; ow < outWidth; ow++) {
          const row = rowBase + oh * outWidth + ow;
          const dyAt = dyBase + oh * dys.h + ow * dys.w;
          for (let co = 0; co < outChannels; co++) dyRowsData[row * outChannels + co] = dyData[dyAt + co * dys.c];
        }
      }
      for (let kh = 0; kh < filterHeight; kh++) {
        for (let kw = 0; kw < filterWidth; kw++) {
          for (let ci = 0; ci < inChannels; ci++) {
            const colBase = ((kh * filterWidth + kw) * inChannels + ci) * rows + rowBase;
            for (let oh = 0; oh < outHeight; oh++) {
              const ih = oh * strideHeight + kh - padTop;
              const outRow = colBase + oh * outWidth;
              if (ih < 0 || ih >= inHeight) {
                colsData.fill(0, outRow, outRow + outWidth);
                continue;
              }
              const xRow = xBase + ih * xs.h + ci * xs.c;
              for (let ow = 0; ow < outWidth; ow++) {
                const iw = ow * strideWidth + kw - padLeft;
                colsData[outRow + ow] = iw >= 0 && iw < inWidth ? xData[xRow + iw * xs.w] : 0;
              }
            }
          }
        }
      }
    }

    // The registered BatchMatMul: this package's (module product for Co a multiple of 8) when registered.
    const product = runRegisteredWasmKernel(wasm, 'BatchMatMul', { a: colsT, b: dyRows }, { transposeA: false, transposeB: false });
    const productData = wasm.typedArrayFromHeap(product) as Float32Array;
    for (let i = 0; i < partialSum.length; i++) partialSum[i] += productData[i];
    wasm.disposeData(product.dataId);
    wasm.disposeData(colsT.dataId);
    wasm.disposeData(dyRows.dataId);
  }
  (wasm.typedArrayFromHeap(result) as Float32Array).set(partialSum);
  return result;
};

/**
 * dW = colsᵀ · dy as one plain XNNPACK BatchMatMul of [KH·KW·Ci, rows] × [rows, Co], where
 * dy (NHWC) already is [rows, Co] and colsᵀ is built from x transposed to [Ci, N, H, W]: each
 * of its rows is, per sample and output row, one contiguous run of x, moved with
 * `copyWithin` inside the wasm heap (memmove speed; a JS element loop costs ~5 ns per value
 * here). Needs stride 1 along the width. Splits the batch when colsᵀ would be too large.
 */
function filterGradientAsProduct(wasm: BackendWasm, x: TensorInfo, dy: TensorInfo, info: backend_util.Conv2DInfo): TensorInfo {
  const { batchSize, inHeight, inWidth, inChannels, outHeight, outWidth, outChannels, filterHeight, filterWidth, strideHeight } = info;
  const padTop = info.padInfo.top;
  const padLeft = info.padInfo.left;
  const k = filterHeight * filterWidth * inChannels;
  const rowsPerSample = outHeight * outWidth;
  const samplesPerChunk = Math.max(1, Math.min(batchSize, Math.floor(MAX_COLUMN_FLOATS / (k * rowsPerSample))));
  // Per kh, the output rows whose input row oh·sh + kh − padTop lies inside x; per kw, the
  // output columns whose input column ow + kw − padLeft does.
  const rowSpans = Array.from({ length: filterHeight }, (_, kh) => {
    const first = Math.max(0, Math.ceil((padTop - kh) / strideHeight));
    return [first, Math.max(first, Math.min(outHeight, Math.floor((inHeight - 1 + padTop - kh) / strideHeight) + 1))];
  });
  const columnSpans = Array.from({ length: filterWidth }, (_, kw) => {
    const first = Math.min(outWidth, Math.max(0, padLeft - kw));
    return [first, Math.max(first, Math.min(outWidth, inWidth + padLeft - kw))];
  });
  const xT = runStockWasmKernel(wasm, 'Transpose', { x }, { perm: [3, 0, 1, 2] });
  let total: TensorInfo | undefined;
  for (let n0 = 0; n0 < batchSize; n0 += samplesPerChunk) {
    const samples = Math.min(samplesPerChunk, batchSize - n0);
    const rows = samples * rowsPerSample;
    const colsT = wasm.makeOutput([1, k, rows], 'float32');
    // One view of the whole heap, taken after the allocation (growth replaces the buffer).
    const heap = wholeHeapF32(wasm);
    const src = heapFloatOffset(wasm, xT);
    const dst = heapFloatOffset(wasm, colsT);
    // Zero once, then copy only the spans that read inside x (per-call costs dominate short runs).
    heap.fill(0, dst, dst + k * rows);
    // Sample by sample, so that the nine (or KH·KW) shifted reads of one plane hit the cache.
    for (let ci = 0; ci < inChannels; ci++) {
      for (let s = 0; s < samples; s++) {
        const plane = src + (ci * batchSize + n0 + s) * inHeight * inWidth;
        for (let kh = 0; kh < filterHeight; kh++) {
          const [ohFirst, ohEnd] = rowSpans[kh];
          for (let kw = 0; kw < filterWidth; kw++) {
            const [first, end] = columnSpans[kw];
            if (ohFirst >= ohEnd || first >= end) continue;
            const span = end - first;
            const sampleBase = dst + ((kh * filterWidth + kw) * inChannels + ci) * rows + s * outHeight * outWidth;
            if (span === outWidth && span === inWidth && strideHeight === 1) {
              // Whole rows, consecutive in x and in colsᵀ: one copy.
              const from = plane + (ohFirst + kh - padTop) * inWidth;
              heap.copyWithin(sampleBase + ohFirst * outWidth, from, from + (ohEnd - ohFirst) * outWidth);
              continue;
            }
            for (let oh = ohFirst; oh < ohEnd; oh++) {
              const from = plane + (oh * strideHeight + kh - padTop) * inWidth + first + kw - padLeft;
              heap.copyWithin(sampleBase + oh * outWidth + first, from, from + span);
            }
          }
        }
      }
    }
    // dy's rows of this chunk, as a view: NHWC dy is [N·OH·OW, Co] in memory already.
    const dyRows: TensorInfo = n0 === 0 && samples === batchSize
      ? { dataId: dy.dataId, shape: [1, rows, outChannels], dtype: 'float32' }
      : { ...sliceRows(wasm, dy, n0 * rowsPerSample, rows, outChannels), shape: [1, rows, outChannels] };
    const product = runStockWasmKernel(wasm, 'BatchMatMul', { a: colsT, b: dyRows }, { transposeA: false, transposeB: false });
    wasm.disposeData(colsT.dataId);
    if (dyRows.dataId !== dy.dataId) wasm.disposeData(dyRows.dataId);
    if (total === undefined) total = product;
    else {
      const sum = runStockWasmKernel(wasm, 'Add', { a: total, b: product });
      wasm.disposeData(total.dataId);
      wasm.disposeData(product.dataId);
      total = sum;
    }
  }
  wasm.disposeData(xT.dataId);
  total!.shape = [filterHeight, filterWidth, inChannels, outChannels];
  return total!;
}

/**
 * The filter gradient is itself a convolution, with the roles of batch and channels swapped:
 *
 *   dW[kh, kw, ci, co] = Σ_{oh, ow, n} xT[ci, kh + oh·sh − padTop, kw + ow·sw − padLeft, n] · dyT[oh, ow, n, co]
 *
 * i.e. a Conv2D of xT = x transposed to [Ci, H, W, N] (batch Ci, N channels) with the "filter"
 * dyT = dy transposed to [OH, OW, N, Co], dilated by the forward stride, giving [Ci, KH, KW, Co].
 * Everything runs in wasm (two transposes and one XNNPACK convolution), with no im2col in JS.
 * Only for a non-negative `padding` (swappedConvolutionPadding); otherwise the im2col path runs.
 */
function filterGradientAsConvolution(
  wasm: BackendWasm,
  x: TensorInfo,
  dy: TensorInfo,
  info: backend_util.Conv2DInfo,
  padding: SwappedPadding,
): TensorInfo {
  const { strideHeight, strideWidth } = info;
  const { padTop, padBottom, padLeft, padRight } = padding;
  const xT = runStockWasmKernel(wasm, 'Transpose', { x }, { perm: [3, 1, 2, 0] });
  const dyT = runStockWasmKernel(wasm, 'Transpose', { x: dy }, { perm: [1, 2, 0, 3] });
  const gradT = runStockWasmKernel(wasm, 'Conv2D', { x: xT, filter: dyT }, {
    strides: [1, 1],
    pad: [[0, 0], [padTop, padBottom], [padLeft, padRight], [0, 0]],
    dataFormat: 'NHWC',
    dilations: [strideHeight, strideWidth],
  });
  wasm.disposeData(xT.dataId);
  wasm.disposeData(dyT.dataId);
  const grad = runStockWasmKernel(wasm, 'Transpose', { x: gradT }, { perm: [1, 2, 0, 3] });
  wasm.disposeData(gradT.dataId);
  return grad;
}

interface SwappedPadding {
  padTop: number;
  padBottom: number;
  padLeft: number;
  padRight: number;
}

/**
 * The padding of filterGradientAsConvolution's swapped convolution, or undefined when some side
 * would be negative (rows the forward pass never read at the bottom/right).
 */
function swappedConvolutionPadding(info: backend_util.Conv2DInfo): SwappedPadding | undefined {
  const { inHeight, inWidth, outHeight, outWidth, filterHeight, filterWidth, strideHeight, strideWidth } = info;
  const padTop = info.padInfo.top;
  const padLeft = info.padInfo.left;
  const padBottom = filterHeight - 1 - inHeight - padTop + (outHeight - 1) * strideHeight + 1;
  const padRight = filterWidth - 1 - inWidth - padLeft + (outWidth - 1) * strideWidth + 1;
  if (padTop < 0 || padLeft < 0 || padBottom < 0 || padRight < 0) return undefined;
  return { padTop, padBottom, padLeft, padRight };
}

export const conv2DBackpropFilterWasmConfig: KernelConfig = {
  kernelName: Conv2DBackpropFilter,
  backendName: 'wasm',
  kernelFunc: conv2DBackpropFilterWasm,
};
