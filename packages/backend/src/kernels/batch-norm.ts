import { FusedBatchNorm, util, type KernelConfig, type KernelFunc, type TensorInfo } from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { heapByteOffset, heapF32 } from './wasm-util.js';
import { runStockWasmKernel } from './stock-kernels.js';
import { chunkCount, partOf, simdModuleFor } from './simd/simd-module.js';
import { batchNormPath, ELEMENTWISE_THRESHOLDS } from './kernel-paths.js';

/**
 * y = (x − mean) · scale / √(variance + ε) + offset, for per-channel statistics (size 1 or the
 * innermost dimension, as batch normalisation of NHWC activations has), as y = x · a + b with
 * a = scale / √(variance + ε) and b = offset − mean · a computed once per channel (in float64),
 * then one pass of the kernel module (SIMD, split across the wasm threads), or, without it, two
 * broadcasting stock kernels. Stock tfjs-backend-wasm 4.22
 * recomputes broadcast indices for every element, ≈ 7 ns each, three to four times this; a
 * plain JS loop is no faster than stock. Other statistic shapes and non-float32 inputs use
 * the stock kernel. Values agree with it to float32 rounding (the terms are grouped differently).
 */
export const fusedBatchNormWasm: KernelFunc = ({ inputs, backend, attrs }) => {
  const wasm = backend as BackendWasm;
  const { x, mean, variance, offset, scale } = inputs as Record<string, TensorInfo | undefined> as {
    x: TensorInfo;
    mean: TensorInfo;
    variance: TensorInfo;
    offset?: TensorInfo;
    scale?: TensorInfo;
  };
  const channels = x.shape[x.shape.length - 1] ?? 1;
  const perChannel = (t: TensorInfo | undefined) =>
    t === undefined || (t.dtype === 'float32' && (util.sizeFromShape(t.shape) === 1 || (util.sizeFromShape(t.shape) === channels && t.shape[t.shape.length - 1] === channels && t.shape.length <= x.shape.length)));
  const supported = x.dtype === 'float32' && x.shape.length > 0 && [mean, variance, offset, scale].every(perChannel);
  const module = supported ? simdModuleFor(wasm) : null;
  const path = batchNormPath({ supported, module: module !== null });
  if (path === 'stock') return runStockWasmKernel(wasm, FusedBatchNorm, inputs, attrs);
  const epsilon = (attrs as { varianceEpsilon?: number }).varianceEpsilon ?? 0.001;
  const read = (t: TensorInfo | undefined, fallback: number) => {
    const out = new Float64Array(channels).fill(fallback);
    if (t === undefined) return out;
    const values = heapF32(wasm, t);
    for (let c = 0; c < channels; c++) out[c] = values.length === 1 ? values[0] : values[c];
    return out;
  };
  const m = read(mean, 0);
  const v = read(variance, 1);
  const s = read(scale, 1);
  const o = read(offset, 0);
  const factor = wasm.makeOutput([channels], 'float32');
  const shift = wasm.makeOutput([channels], 'float32');
  const a = heapF32(wasm, factor);
  const b = heapF32(wasm, shift);
  for (let c = 0; c < channels; c++) {
    const k = s[c] / Math.sqrt(v[c] + epsilon);
    a[c] = k;
    b[c] = o[c] - m[c] * k;
  }
  let out: TensorInfo;
  if (path === 'module') {
    out = wasm.makeOutput(x.shape, 'float32');
    const rows = util.sizeFromShape(x.shape) / channels;
    const at = (t: TensorInfo) => heapByteOffset(wasm, t);
    const shared = { x: at(x), a: at(factor), b: at(shift), out: at(out), C: channels };
    const parts = chunkCount(module!, rows, Math.ceil(ELEMENTWISE_THRESHOLDS.minValuesPerChunk / channels));
    module!.split('scale_shift_rows', parts, shared, (part) => {
      const [r0, r1] = partOf(rows, parts, part);
      return { r0, r1 };
    });
  } else {
    const scaled = runStockWasmKernel(wasm, 'Multiply', { a: x, b: factor });
    out = runStockWasmKernel(wasm, 'Add', { a: scaled, b: shift });
    wasm.disposeData(scaled.dataId);
  }
  wasm.disposeData(factor.dataId);
  wasm.disposeData(shift.dataId);
  return out;
};

export const fusedBatchNormWasmConfig: KernelConfig = { kernelName: FusedBatchNorm, backendName: 'wasm', kernelFunc: fusedBatchNormWasm };
