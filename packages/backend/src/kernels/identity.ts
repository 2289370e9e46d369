import { Cast, Identity, type KernelConfig, type KernelFunc, type TensorInfo } from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { runStockWasmKernel } from './stock-kernels.js';

/**
 * Identity shares the input's buffer (reference-counted, as Reshape and the cpu backend's
 * Identity do) instead of copying it: tensors are immutable and variables are updated by
 * reassigning their data, so no kernel ever writes into a shared buffer. Gradient code calls
 * Identity hundreds of times per training step.
 */
export const identityWasm: KernelFunc = ({ inputs, backend }) => {
  const wasm = backend as BackendWasm;
  const { x } = inputs as { x: TensorInfo };
  if (x.dtype === 'string') return runStockWasmKernel(wasm, Identity, inputs);
  wasm.incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
};

export const identityWasmConfig: KernelConfig = { kernelName: Identity, backendName: 'wasm', kernelFunc: identityWasm };

/**
 * A Cast to the dtype the tensor already has shares the buffer like Identity (ReLU's gradient
 * casts its float32 step mask to float32 on every layer); real conversions use the stock kernel.
 */
export const castWasm: KernelFunc = ({ inputs, backend, attrs }) => {
  const wasm = backend as BackendWasm;
  const { x } = inputs as { x: TensorInfo };
  if (x.dtype === 'string' || (attrs as { dtype?: string }).dtype !== x.dtype) return runStockWasmKernel(wasm, Cast, inputs, attrs);
  wasm.incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
};

export const castWasmConfig: KernelConfig = { kernelName: Cast, backendName: 'wasm', kernelFunc: castWasm };
