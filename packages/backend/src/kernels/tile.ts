import { Tile, util, type KernelConfig, type KernelFunc, type TensorInfo } from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { runStockWasmKernel } from './stock-kernels.js';

type Numeric = Float32Array | Int32Array | Uint8Array;

/**
 * Tile by block copies: each dimension's block is written once and then replicated by doubling
 * `copyWithin` calls, so the cost is a handful of memcpy-speed copies of the output. Stock
 * tfjs-backend-wasm 4.22 computes every output element's source index separately, which made
 * Tile (used by the batch-norm and broadcast gradients) a fifth of a training step.
 */
export const tileWasm: KernelFunc = ({ inputs, backend, attrs }) => {
  const wasm = backend as BackendWasm;
  const { x } = inputs as { x: TensorInfo };
  const { reps } = attrs as unknown as { reps: number[] };
  if (x.dtype === 'string' || x.dtype === 'complex64') return runStockWasmKernel(wasm, Tile, inputs, attrs);
  const rank = x.shape.length;
  const outShape = x.shape.map((size, d) => size * reps[d]);
  const out = wasm.makeOutput(outShape, x.dtype);
  if (util.sizeFromShape(outShape) === 0) return out;
  const src = wasm.typedArrayFromHeap(x) as Numeric;
  const dst = wasm.typedArrayFromHeap(out) as Numeric;
  if (rank === 0) {
    dst[0] = src[0];
    return out;
  }
  const srcStrides = util.computeStrides(x.shape);
  // outBlock[d]: elements of the output spanned by one index step along dimension d.
  const outBlock = new Array<number>(rank);
  outBlock[rank - 1] = 1;
  for (let d = rank - 2; d >= 0; d--) outBlock[d] = outBlock[d + 1] * outShape[d + 1];

  const replicate = (start: number, segment: number, times: number) => {
    let done = 1;
    while (done < times) {
      const n = Math.min(done, times - done);
      dst.copyWithin(start + done * segment, start, start + n * segment);
      done += n;
    }
  };
  const fill = (d: number, srcOffset: number, dstOffset: number) => {
    const size = x.shape[d];
    if (d === rank - 1) {
      dst.set(src.subarray(srcOffset, srcOffset + size), dstOffset);
    } else {
      const srcStep = srcStrides[d];
      const dstStep = outBlock[d];
      for (let i = 0; i < size; i++) fill(d + 1, srcOffset + i * srcStep, dstOffset + i * dstStep);
    }
    replicate(dstOffset, size * outBlock[d], reps[d]);
  };
  fill(0, 0, 0);
  return out;
};

export const tileWasmConfig: KernelConfig = { kernelName: Tile, backendName: 'wasm', kernelFunc: tileWasm };
