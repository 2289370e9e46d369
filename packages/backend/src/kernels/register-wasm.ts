import { getKernel, registerKernel, type KernelConfig } from '@tensorflow/tfjs-core';
import { conv2DBackpropFilterWasmConfig } from './conv2d-backprop-filter.js';

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
  return added;
}
