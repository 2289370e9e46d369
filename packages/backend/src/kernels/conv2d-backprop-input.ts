import { backend_util, Conv2DBackpropInput, type KernelConfig, type KernelFunc, type TensorInfo } from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { heapF32 } from './wasm-util.js';
import { runStockWasmKernel } from './stock-kernels.js';
import { conv2DInputGradientSimd, conv2DWasm } from './conv2d-simd.js';

interface Conv2DBackpropInputAttrs {
  strides: [number, number] | number;
  pad: 'valid' | 'same' | number | backend_util.ExplicitPadding;
  dataFormat: 'NHWC' | 'NCHW';
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
  inputShape: [number, number, number, number];
}

/**
 * dx = full correlation of dy with the filter rotated by 180° (input and output channels swapped):
 *
 *   dx[n, ih, iw, ci] = Σ_{kh, kw, co} dyP[n, ih + kh, iw + kw, co] · W[KH−1−kh, KW−1−kw, ci, co]
 *
 * where dyP is dy with its rows/columns spread `stride` apart (zeros between) and padded by
 * KH−1−padTop on top / KW−1−padLeft on the left (and to IH+KH−1 × IW+KW−1 in total). That is a
 * stride-1 'valid' Conv2D, which wasm runs through XNNPACK; stock tfjs-backend-wasm 4.22 runs a
 * naive scalar loop instead (about 10× slower on the benchmark network). NCHW and non-float32
 * inputs go to the stock kernel.
 */
export const conv2DBackpropInputWasm: KernelFunc = ({ inputs, backend, attrs }) => {
  const wasm = backend as BackendWasm;
  const { dy, filter } = inputs as { dy: TensorInfo; filter: TensorInfo };
  const { strides, pad, dataFormat, dimRoundingMode, inputShape } = attrs as unknown as Conv2DBackpropInputAttrs;
  if (dataFormat === 'NCHW' || dy.dtype !== 'float32' || filter.dtype !== 'float32') {
    return runStockWasmKernel(wasm, Conv2DBackpropInput, inputs, attrs);
  }
  const info = backend_util.computeConv2DInfo(
    inputShape,
    filter.shape as [number, number, number, number],
    strides,
    1,
    pad,
    dimRoundingMode,
    false,
    'channelsLast',
  );
  const direct = conv2DInputGradientSimd(wasm, dy, filter, info);
  if (direct !== undefined) return direct;
  const { batchSize, inHeight, inWidth, inChannels, outHeight, outWidth, outChannels } = info;
  const { filterHeight, filterWidth, strideHeight, strideWidth } = info;
  const padTop = filterHeight - 1 - info.padInfo.top;
  const padLeft = filterWidth - 1 - info.padInfo.left;
  const paddedHeight = inHeight + filterHeight - 1;
  const paddedWidth = inWidth + filterWidth - 1;

  const padded = wasm.makeOutput([batchSize, paddedHeight, paddedWidth, outChannels], 'float32');
  const rotated = wasm.makeOutput([filterHeight, filterWidth, outChannels, inChannels], 'float32');
  const paddedData = heapF32(wasm, padded);
  const rotatedData = heapF32(wasm, rotated);
  const dyData = heapF32(wasm, dy);
  const filterData = heapF32(wasm, filter);

  paddedData.fill(0);
  const paddedRow = paddedWidth * outChannels;
  const paddedSample = paddedHeight * paddedRow;
  const dyRow = outWidth * outChannels;
  const dySample = outHeight * dyRow;
  for (let n = 0; n < batchSize; n++) {
    for (let oh = 0; oh < outHeight; oh++) {
      const r = oh * strideHeight + padTop;
      if (r < 0 || r >= paddedHeight) continue;
      const dyBase = n * dySample + oh * dyRow;
      const rowBase = n * paddedSample + r * paddedRow;
      if (strideWidth === 1 && padLeft >= 0 && padLeft + outWidth <= paddedWidth) {
        // Whole row at once: one contiguous copy of outWidth·Co floats.
        paddedData.set(dyData.subarray(dyBase, dyBase + dyRow), rowBase + padLeft * outChannels);
        continue;
      }
      for (let ow = 0; ow < outWidth; ow++) {
        const c = ow * strideWidth + padLeft;
        if (c < 0 || c >= paddedWidth) continue;
        const from = dyBase + ow * outChannels;
        paddedData.set(dyData.subarray(from, from + outChannels), rowBase + c * outChannels);
      }
    }
  }
  for (let kh = 0; kh < filterHeight; kh++) {
    for (let kw = 0; kw < filterWidth; kw++) {
      const src = ((filterHeight - 1 - kh) * filterWidth + (filterWidth - 1 - kw)) * inChannels * outChannels;
      const dst = (kh * filterWidth + kw) * outChannels * inChannels;
      for (let ci = 0; ci < inChannels; ci++) {
        for (let co = 0; co < outChannels; co++) {
          rotatedData[dst + co * inChannels + ci] = filterData[src + ci * outChannels + co];
        }
      }
    }
  }

  const dx = conv2DWasm({
    inputs: { x: padded, filter: rotated },
    backend: wasm,
    attrs: { strides: [1, 1], pad: 'valid', dataFormat: 'NHWC', dilations: [1, 1] },
  }) as TensorInfo;
  wasm.disposeData(padded.dataId);
  wasm.disposeData(rotated.dataId);
  return dx;
};

export const conv2DBackpropInputWasmConfig: KernelConfig = {
  kernelName: Conv2DBackpropInput,
  backendName: 'wasm',
  kernelFunc: conv2DBackpropInputWasm,
};
