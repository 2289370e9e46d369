import { getKernel, registerKernel, unregisterKernel, type KernelConfig } from '@tensorflow/tfjs-core';
import { conv2DBackpropFilterWasmConfig } from './conv2d-backprop-filter.js';
import { conv3DCorrectedWasmKernels, conv3DFastWasmKernels } from './conv3d-wasm.js';

/** Kernels that training needs on wasm and tfjs-backend-wasm does not ship. */
const WASM_TRAINING_KERNELS: readonly KernelConfig[] = [conv2DBackpropFilterWasmConfig];

/**
 * Registers the missing training kernels for the wasm backend. Idempotent, and it never
 * replaces a kernel that a future tfjs-backend-wasm provides itself. Returns the names it added.
 */
export function registerWasmTrainingKernels(): string[] {
  const added: string[] = [];
  for (const config of WASM_TRAINING_KERNELS) {
    if (getKernel(config.kernelName, 'wasm') !== undefined) continue;
    registerKernel(config);
    added.push(config.kernelName);
  }
  // Stock wasm 3-D kernels that compute wrong results (or, Conv3D, run 40× slower) are replaced.
  for (const config of [...conv3DCorrectedWasmKernels, ...conv3DFastWasmKernels]) {
    const current = getKernel(config.kernelName, 'wasm');
    if (current?.kernelFunc === config.kernelFunc) continue;
    if (current !== undefined) unregisterKernel(config.kernelName, 'wasm');
    registerKernel(config);
    added.push(config.kernelName);
  }
  return added;
}
