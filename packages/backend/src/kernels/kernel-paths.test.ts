import { describe, expect, it } from 'vitest';
import {
  batchMatMulPath,
  binaryPath,
  conv2DFilterGradientPath,
  conv2DInputGradientPath,
  conv2DModulePath,
  maxPoolGradPath,
  reducePath,
  type ConvGeometry,
} from './kernel-paths.js';

const conv = (over: Partial<ConvGeometry>): ConvGeometry => ({
  batch: 2, inHeight: 7, inWidth: 7, inChannels: 64, outHeight: 7, outWidth: 7, outChannels: 128,
  filterHeight: 3, filterWidth: 3, strideHeight: 1, strideWidth: 1, dilationHeight: 1, dilationWidth: 1, padTop: 1, padLeft: 1,
  ...over,
});

// Each row of the tables in kernel-paths.ts, on both sides of its threshold.
describe('kernel path tables', () => {
  it('Conv2D: Winograd from 64 input channels for stride-1 3×3, direct otherwise, stock without Co % 8', () => {
    expect(conv2DModulePath(conv({}))).toBe('module-winograd');
    expect(conv2DModulePath(conv({ inChannels: 32 }))).toBe('module-direct');
    expect(conv2DModulePath(conv({ strideHeight: 2 }))).toBe('module-direct');
    expect(conv2DModulePath(conv({ inChannels: 66 }))).toBe('module-direct');
    expect(conv2DModulePath(conv({ outChannels: 12 }))).toBe('stock');
    expect(conv2DModulePath(conv({}), false)).toBe('stock');
  });

  it('Conv2DBackpropInput: module only at stride 1 with Ci % 8 = 0', () => {
    const base = { channelsLast: true, float32: true, module: true, strideHeight: 1, strideWidth: 1, inChannels: 16 };
    expect(conv2DInputGradientPath(base)).toBe('module');
    expect(conv2DInputGradientPath({ ...base, strideWidth: 2 })).toBe('spread-dy');
    expect(conv2DInputGradientPath({ ...base, module: false })).toBe('spread-dy');
    expect(conv2DInputGradientPath({ ...base, channelsLast: false })).toBe('stock');
  });

  it('Conv2DBackpropFilter: the five paths', () => {
    const base = { channelsLast: true, module: true, inChannels: 8, outChannels: 16, strideWidth: 1, outWidth: 28, swappedPaddingNonNegative: true };
    expect(conv2DFilterGradientPath(base)).toBe('module-as-convolution');
    expect(conv2DFilterGradientPath({ ...base, inChannels: 3 })).toBe('module-direct');
    expect(conv2DFilterGradientPath({ ...base, module: false })).toBe('xnnpack-im2col');
    expect(conv2DFilterGradientPath({ ...base, module: false, outWidth: 7 })).toBe('xnnpack-swapped-conv');
    expect(conv2DFilterGradientPath({ ...base, module: false, outWidth: 7, swappedPaddingNonNegative: false })).toBe('js-im2col');
    expect(conv2DFilterGradientPath({ ...base, channelsLast: false })).toBe('js-im2col');
  });

  it('element-wise and reductions: module from 16,384 values', () => {
    const binary = { float32: true, module: true, size: 16384, sameShape: false, broadcastChannels: 4 };
    expect(binaryPath(binary)).toBe('module-rows');
    expect(binaryPath({ ...binary, sameShape: true })).toBe('module-flat');
    expect(binaryPath({ ...binary, size: 16383 })).toBe('stock');
    expect(binaryPath({ ...binary, broadcastChannels: 3 })).toBe('stock');
    const reduce = { float32: true, middleAxes: true, size: 16384, module: true, outer: 1, reduce: 128, inner: 128 };
    expect(reducePath(reduce)).toBe('module');
    expect(reducePath({ ...reduce, module: false })).toBe('xnnpack-avg-pool');
    expect(reducePath({ ...reduce, module: false, outer: 1025 })).toBe('stock');
    expect(reducePath({ ...reduce, module: false, reduce: 1, inner: 255 })).toBe('stock');
  });

  it('BatchMatMul and MaxPoolGrad', () => {
    const mm = { module: true, float32: true, rank: 3, sameRankAndBatch: true, m: 4, k: 4, n: 8, innerMatches: true, transposeA: false, transposeB: true };
    expect(batchMatMulPath(mm)).toBe('module');
    expect(batchMatMulPath({ ...mm, n: 12 })).toBe('transpose-then-stock');
    expect(batchMatMulPath({ ...mm, n: 12, transposeB: false })).toBe('stock');
    expect(maxPoolGradPath({ float32: true, tiled2x2: true, module: true })).toBe('module');
    expect(maxPoolGradPath({ float32: true, tiled2x2: true, module: false })).toBe('js-2x2');
    expect(maxPoolGradPath({ float32: true, tiled2x2: false, module: true })).toBe('js-windows');
    expect(maxPoolGradPath({ float32: false, tiled2x2: true, module: true })).toBe('stock');
  });
});
