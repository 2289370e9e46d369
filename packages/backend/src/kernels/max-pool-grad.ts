import { backend_util, MaxPoolGrad, type KernelConfig, type KernelFunc, type TensorInfo } from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { heapF32, runWasmKernel } from './wasm-util.js';

interface MaxPoolGradAttrs {
  filterSize: [number, number] | number;
  strides: [number, number] | number;
  pad: 'valid' | 'same' | number | backend_util.ExplicitPadding;
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

/**
 * Routes each dy value to the first maximum of its pooling window (row-major window order, the
 * same tie rule as the cpu backend, which matters after ReLU where whole windows are 0). One
 * pass over the windows with the channel loop innermost, so memory is read contiguously; stock
 * tfjs-backend-wasm 4.22 instead loops over every dx element and scans all windows covering it.
 */
export const maxPoolGradWasm: KernelFunc = ({ inputs, backend, attrs }) => {
  const wasm = backend as BackendWasm;
  const { dy, input } = inputs as { dy: TensorInfo; input: TensorInfo };
  const { filterSize, strides, pad, dimRoundingMode } = attrs as unknown as MaxPoolGradAttrs;
  if (input.dtype !== 'float32' || dy.dtype !== 'float32') return runWasmKernel(wasm, MaxPoolGrad, inputs, attrs);
  const info = backend_util.computePool2DInfo(
    input.shape as [number, number, number, number],
    filterSize,
    strides,
    1,
    pad,
    dimRoundingMode,
  );
  const { batchSize, inHeight, inWidth, inChannels, outHeight, outWidth } = info;
  const { filterHeight, filterWidth, strideHeight, strideWidth } = info;
  const padTop = info.padInfo.top;
  const padLeft = info.padInfo.left;
  const channels = inChannels;

  const dx = wasm.makeOutput(input.shape, 'float32');
  const dxData = heapF32(wasm, dx);
  const xData = heapF32(wasm, input);
  const dyData = heapF32(wasm, dy);
  dxData.fill(0);
  const best = new Float32Array(channels);
  const where = new Int32Array(channels);
  const xRow = inWidth * channels;
  const xSample = inHeight * xRow;

  for (let n = 0; n < batchSize; n++) {
    for (let oh = 0; oh < outHeight; oh++) {
      const h0 = oh * strideHeight - padTop;
      for (let ow = 0; ow < outWidth; ow++) {
        const w0 = ow * strideWidth - padLeft;
        best.fill(Number.NEGATIVE_INFINITY);
        where.fill(-1);
        for (let kh = 0; kh < filterHeight; kh++) {
          const h = h0 + kh;
          if (h < 0 || h >= inHeight) continue;
          for (let kw = 0; kw < filterWidth; kw++) {
            const w = w0 + kw;
            if (w < 0 || w >= inWidth) continue;
            const base = n * xSample + h * xRow + w * channels;
            for (let c = 0; c < channels; c++) {
              const v = xData[base + c];
              if (v > best[c]) {
                best[c] = v;
                where[c] = base + c;
              }
            }
          }
        }
        const dyBase = ((n * outHeight + oh) * outWidth + ow) * channels;
        for (let c = 0; c < channels; c++) {
          if (where[c] >= 0) dxData[where[c]] += dyData[dyBase + c];
        }
      }
    }
  }
  return dx;
};

export const maxPoolGradWasmConfig: KernelConfig = {
  kernelName: MaxPoolGrad,
  backendName: 'wasm',
  kernelFunc: maxPoolGradWasm,
};
