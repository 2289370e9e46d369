import { backend_util, MaxPoolGrad, type KernelConfig, type KernelFunc, type TensorInfo } from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { heapByteOffset, heapF32 } from './wasm-util.js';
import { runStockWasmKernel } from './stock-kernels.js';
import { chunkCount, partOf, simdModuleFor } from './simd/simd-module.js';
import { maxPoolGradPath } from './kernel-paths.js';

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
  const float32 = input.dtype === 'float32' && dy.dtype === 'float32';
  const info = float32
    ? backend_util.computePool2DInfo(input.shape as [number, number, number, number], filterSize, strides, 1, pad, dimRoundingMode)
    : undefined;
  const tiled2x2 = info !== undefined && isTiled2x2(info);
  const module = tiled2x2 ? simdModuleFor(wasm) : null;
  const path = maxPoolGradPath({ float32, tiled2x2, module: module !== null });
  if (info === undefined || path === 'stock') return runStockWasmKernel(wasm, MaxPoolGrad, inputs, attrs);
  const { batchSize, inHeight, inWidth, inChannels, outHeight, outWidth } = info;
  const { filterHeight, filterWidth, strideHeight, strideWidth } = info;
  const padTop = info.padInfo.top;
  const padLeft = info.padInfo.left;
  const channels = inChannels;

  const dx = wasm.makeOutput(input.shape, 'float32');
  const dxData = heapF32(wasm, dx);
  const xData = heapF32(wasm, input);
  const dyData = heapF32(wasm, dy);
  if (path === 'module') {
    // The kernel writes every element a window covers; only an odd last row/column needs zeros first.
    if (outHeight * 2 !== inHeight || outWidth * 2 !== inWidth) dxData.fill(0);
    const rows = batchSize * outHeight;
    const parts = chunkCount(module!, rows);
    const shared = {
      x: heapByteOffset(wasm, input), dy: heapByteOffset(wasm, dy), dx: heapByteOffset(wasm, dx),
      H: inHeight, W: inWidth, C: inChannels, OH: outHeight, OW: outWidth,
    };
    module!.split('max_pool_2x2_grad', parts, shared, (part) => {
      const [r0, r1] = partOf(rows, parts, part);
      return { r0, r1 };
    });
    return dx;
  }
  dxData.fill(0);
  if (path === 'js-2x2') {
    maxPool2x2Grad(xData, dyData, dxData, batchSize, inHeight, inWidth, inChannels, outHeight, outWidth);
    return dx;
  }
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

/** 2×2 windows, stride 2, no padding, every window inside x: the windows tile x without overlap. */
function isTiled2x2(info: backend_util.Conv2DInfo): boolean {
  return (
    info.filterHeight === 2 && info.filterWidth === 2 && info.strideHeight === 2 && info.strideWidth === 2 &&
    info.padInfo.top === 0 && info.padInfo.left === 0 && info.outHeight * 2 <= info.inHeight && info.outWidth * 2 <= info.inWidth
  );
}

/**
 * The common 2×2 / stride 2 / unpadded case (every CNN here): four candidates per output, compared
 * in window order with the same strict '>' as the general loop, no per-window bookkeeping arrays.
 */
function maxPool2x2Grad(
  x: Float32Array,
  dy: Float32Array,
  dx: Float32Array,
  batch: number,
  inHeight: number,
  inWidth: number,
  channels: number,
  outHeight: number,
  outWidth: number,
): void {
  const xRow = inWidth * channels;
  for (let n = 0; n < batch; n++) {
    for (let oh = 0; oh < outHeight; oh++) {
      const top = (n * inHeight + 2 * oh) * xRow;
      let dyAt = ((n * outHeight + oh) * outWidth) * channels;
      for (let ow = 0; ow < outWidth; ow++) {
        const p00 = top + 2 * ow * channels;
        const p01 = p00 + channels;
        const p10 = p00 + xRow;
        const p11 = p10 + channels;
        for (let c = 0; c < channels; c++, dyAt++) {
          let at = p00 + c;
          let best = x[at];
          // NaN never wins a '>' comparison, as in the general loop; an all-NaN window keeps the first.
          if (!(best === best)) best = Number.NEGATIVE_INFINITY;
          if (x[p01 + c] > best) { best = x[p01 + c]; at = p01 + c; }
          if (x[p10 + c] > best) { best = x[p10 + c]; at = p10 + c; }
          if (x[p11 + c] > best) at = p11 + c;
          dx[at] += dy[dyAt];
        }
      }
    }
  }
}

export const maxPoolGradWasmConfig: KernelConfig = {
  kernelName: MaxPoolGrad,
  backendName: 'wasm',
  kernelFunc: maxPoolGradWasm,
};
