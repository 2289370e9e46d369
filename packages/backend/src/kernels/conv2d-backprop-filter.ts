import {
  backend_util,
  Conv2DBackpropFilter,
  getKernel,
  type KernelConfig,
  type KernelFunc,
  type TensorInfo,
} from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { runWasmKernel } from './wasm-util.js';

/** Upper bound on the im2col buffer (floats); larger problems are split along the batch. */
const MAX_COLUMN_FLOATS = 1 << 24;

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
  if (x.dtype !== 'float32' || dy.dtype !== 'float32') {
    throw new Error(`Conv2DBackpropFilter (wasm, @mm/backend) supports float32 only, got ${x.dtype} and ${dy.dtype}.`);
  }
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

  if (channelsLast) {
    const viaConv = filterGradientAsConvolution(wasm, x, dy, info);
    if (viaConv !== undefined) return viaConv;
  }

  const k = filterHeight * filterWidth * inChannels;
  const rowsPerSample = outHeight * outWidth;
  const samplesPerChunk = Math.max(1, Math.min(batchSize, Math.floor(MAX_COLUMN_FLOATS / (k * rowsPerSample))));
  const bmm = getKernel('BatchMatMul', 'wasm');
  if (bmm === undefined) throw new Error('wasm BatchMatMul kernel is not registered; is @tensorflow/tfjs-backend-wasm loaded?');

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

    const product = bmm.kernelFunc({
      inputs: { a: colsT, b: dyRows },
      backend: wasm,
      attrs: { transposeA: false, transposeB: false },
    }) as TensorInfo;
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
 * The filter gradient is itself a convolution, with the roles of batch and channels swapped:
 *
 *   dW[kh, kw, ci, co] = Σ_{oh, ow, n} xT[ci, kh + oh·sh − padTop, kw + ow·sw − padLeft, n] · dyT[oh, ow, n, co]
 *
 * i.e. a Conv2D of xT = x transposed to [Ci, H, W, N] (batch Ci, N channels) with the "filter"
 * dyT = dy transposed to [OH, OW, N, Co], dilated by the forward stride, giving [Ci, KH, KW, Co].
 * Everything runs in wasm (two transposes and one XNNPACK convolution), with no im2col in JS.
 * Returns undefined when the padding this needs would be negative (rows the forward pass never
 * read at the bottom/right), which the im2col path handles.
 */
function filterGradientAsConvolution(
  wasm: BackendWasm,
  x: TensorInfo,
  dy: TensorInfo,
  info: backend_util.Conv2DInfo,
): TensorInfo | undefined {
  const { inHeight, inWidth, outHeight, outWidth, filterHeight, filterWidth, strideHeight, strideWidth } = info;
  const padTop = info.padInfo.top;
  const padLeft = info.padInfo.left;
  const padBottom = filterHeight - 1 - inHeight - padTop + (outHeight - 1) * strideHeight + 1;
  const padRight = filterWidth - 1 - inWidth - padLeft + (outWidth - 1) * strideWidth + 1;
  if (padTop < 0 || padLeft < 0 || padBottom < 0 || padRight < 0) return undefined;
  const xT = runWasmKernel(wasm, 'Transpose', { x }, { perm: [3, 1, 2, 0] });
  const dyT = runWasmKernel(wasm, 'Transpose', { x: dy }, { perm: [1, 2, 0, 3] });
  const gradT = runWasmKernel(wasm, 'Conv2D', { x: xT, filter: dyT }, {
    strides: [1, 1],
    pad: [[0, 0], [padTop, padBottom], [padLeft, padRight], [0, 0]],
    dataFormat: 'NHWC',
    dilations: [strideHeight, strideWidth],
  });
  wasm.disposeData(xT.dataId);
  wasm.disposeData(dyT.dataId);
  const grad = runWasmKernel(wasm, 'Transpose', { x: gradT }, { perm: [1, 2, 0, 3] });
  wasm.disposeData(gradT.dataId);
  return grad;
}

export const conv2DBackpropFilterWasmConfig: KernelConfig = {
  kernelName: Conv2DBackpropFilter,
  backendName: 'wasm',
  kernelFunc: conv2DBackpropFilterWasm,
};
