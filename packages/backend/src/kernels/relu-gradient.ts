import {
  cast,
  engine,
  getBackend,
  getKernel,
  mul,
  Relu,
  step,
  util,
  type GradConfig,
  type KernelConfig,
  type KernelFunc,
  type Tensor,
  type TensorInfo,
} from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { chunkCount, partOf, simdModuleFor } from './simd/simd-module.js';
import { heapByteOffset } from './wasm-util.js';
import { runStockWasmKernel } from './stock-kernels.js';
import { ELEMENTWISE_THRESHOLDS } from './kernel-paths.js';

/**
 * ReLU's input gradient dx = dy · step(x) in one pass (csrc/kernels.c `relu_grad`) instead of
 * tfjs-core's Step, Cast and Multiply: one kernel call and one full-size output instead of two
 * of each, for every ReLU of the network on every step. The step is formed and then multiplied,
 * as tfjs-core does, so the values are the same (dy·0 keeps dy's sign, NaN in x stays NaN).
 */
export const RELU_GRAD = 'MmReluGrad';

const reluGradKernel: KernelFunc = ({ inputs, backend }) => {
  const wasm = backend as BackendWasm;
  const { dy, x } = inputs as { dy: TensorInfo; x: TensorInfo };
  const module = simdModuleFor(wasm);
  if (module === null) {
    // The kernel module is off (MM_WASM_KERNELS=xnnpack): tfjs-core's composition on the stock kernels.
    const positive = runStockWasmKernel(wasm, 'Step', { x }, { alpha: 0 });
    const dx = runStockWasmKernel(wasm, 'Multiply', { a: dy, b: positive });
    wasm.disposeData(positive.dataId);
    return dx;
  }
  const size = util.sizeFromShape(x.shape);
  const dx = wasm.makeOutput(x.shape, 'float32');
  const [dyAt, xAt, dxAt] = [heapByteOffset(wasm, dy), heapByteOffset(wasm, x), heapByteOffset(wasm, dx)];
  const parts = chunkCount(module, size, ELEMENTWISE_THRESHOLDS.minValuesPerChunk);
  module.split('relu_grad', parts, { dy: dyAt, x: xAt, dx: dxAt }, (part) => {
    const [begin, end] = partOf(size, parts, part, 16);
    return { begin, end };
  });
  return dx;
};

export const reluGradWasmConfig: KernelConfig = { kernelName: RELU_GRAD, backendName: 'wasm', kernelFunc: reluGradKernel };

/** Relu's gradient through the one-pass kernel where the backend has it (wasm), else tfjs-core's own ops. */
export const reluGradient: GradConfig = {
  kernelName: Relu,
  inputsToSave: ['x'],
  gradFunc: (dy: Tensor | Tensor[], saved: Tensor[]) => {
    const [x] = saved;
    const g = dy as Tensor;
    const onePass = x.dtype === 'float32' && g.dtype === 'float32' && getKernel(RELU_GRAD, getBackend()) !== undefined;
    return { x: () => (onePass ? (engine().runKernel(RELU_GRAD, { dy: g, x }) as Tensor) : mul(g, cast(step(x), 'float32'))) };
  },
};
