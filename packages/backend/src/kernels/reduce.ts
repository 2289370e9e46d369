import { backend_util, Mean, Sum, util, type KernelConfig, type KernelFunc, type TensorInfo } from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { heapF32, runWasmKernel } from './wasm-util.js';

/** Above this many outer indices, or below this many elements per pooled image, the stock kernel is used. */
const MAX_BATCHED_PRODUCTS = 1024;
const MIN_PRODUCT_SIZE = 256;

interface ReduceAttrs {
  axis: number | number[];
  keepDims: boolean;
}

/**
 * Sum / Mean over a contiguous block of axes that are not the innermost ones (per-channel sums
 * of NHWC activations, global average pooling: the reductions of batch-norm, bias and broadcast
 * gradients). With x viewed as an image batch [outer, reduce, 1, inner], the mean is one
 * reduce×1 average pooling, which wasm runs through XNNPACK at memory speed (Sum scales the
 * small result back by `reduce`). Stock tfjs-backend-wasm 4.22 first transposes the whole input so that the reduced axes
 * come last, which costs more than the sum itself. Innermost reductions, scattered axes and
 * non-float32 inputs go to the stock kernel, which handles them well.
 */
function makeReduce(kernelName: typeof Sum | typeof Mean): KernelFunc {
  return ({ inputs, backend, attrs }) => {
    const wasm = backend as BackendWasm;
    const { x } = inputs as { x: TensorInfo };
    const { axis, keepDims } = attrs as unknown as ReduceAttrs;
    const axes = util.parseAxisParam(axis, x.shape).sort((a, b) => a - b);
    const rank = x.shape.length;
    const contiguous = axes.every((a, i) => a === axes[0] + i);
    const last = axes[axes.length - 1];
    if (x.dtype !== 'float32' || axes.length === 0 || !contiguous || last === rank - 1 || util.sizeFromShape(x.shape) === 0) {
      return runWasmKernel(wasm, kernelName, inputs, attrs);
    }
    const outer = util.sizeFromShape(x.shape.slice(0, axes[0]));
    const reduce = util.sizeFromShape(x.shape.slice(axes[0], last + 1));
    const inner = util.sizeFromShape(x.shape.slice(last + 1));
    // Tiny reductions gain nothing; the stock kernel is fine there.
    if (outer > MAX_BATCHED_PRODUCTS || reduce * inner < MIN_PRODUCT_SIZE) return runWasmKernel(wasm, kernelName, inputs, attrs);
    const [outShape] = backend_util.computeOutAndReduceShapes(x.shape, axes);
    // A TensorInfo is only a view (dataId + shape), so x can be fed as [outer, reduce, 1, inner] without a copy.
    const x4d: TensorInfo = { dataId: x.dataId, shape: [outer, reduce, 1, inner], dtype: 'float32' };
    const out = runWasmKernel(wasm, 'AvgPool', { x: x4d }, { filterSize: [reduce, 1], strides: [1, 1], pad: 'valid' });
    if (kernelName === Sum) {
      const values = heapF32(wasm, out);
      for (let i = 0; i < values.length; i++) values[i] *= reduce;
    }
    out.shape = keepDims ? backend_util.expandShapeToKeepDim(outShape, axes) : outShape;
    return out;
  };
}

export const sumWasm = makeReduce(Sum);
export const meanWasm = makeReduce(Mean);
export const sumWasmConfig: KernelConfig = { kernelName: Sum, backendName: 'wasm', kernelFunc: sumWasm };
export const meanWasmConfig: KernelConfig = { kernelName: Mean, backendName: 'wasm', kernelFunc: meanWasm };
