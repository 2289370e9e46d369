import { getKernel, registerKernel, unregisterKernel, type KernelConfig } from '@tensorflow/tfjs-core';
import { conv2DBackpropFilterWasmConfig } from './conv2d-backprop-filter.js';
import { FAST_WASM_KERNELS } from './fast-kernels.js';
import { stockWasmKernels } from './stock-kernels.js';
import { registerFastGradients, restoreStockGradients } from './gradients.js';
import { restoreStockFusedConv2D, usePerInputFusedConv2DGradients } from './fused-conv2d-gradient.js';
import { restoreStockMoments, useOnePassMomentsGradient } from './moments-gradient.js';
import { restoreStockOptimizerUpdates, useOneKernelOptimizerUpdates } from './optimizer-update.js';
import { conv3DCorrectedWasmKernels, conv3DFastWasmKernels } from './conv3d-wasm.js';

/** Kernels that training needs on wasm and tfjs-backend-wasm does not ship. */
const WASM_TRAINING_KERNELS: readonly KernelConfig[] = [conv2DBackpropFilterWasmConfig];

export interface RegisterWasmTrainingKernelsOptions {
  /**
   * Also replace stock wasm kernels that are slow in training (naive loops in
   * tfjs-backend-wasm 4.22) with the faster ones of this package. Default true;
   * `false` gives stock tfjs-wasm plus only the missing kernels (a baseline for benchmarks).
   */
  fast?: boolean;
}

/** Stock kernels replaced by `fast` kernels, kept so that `restoreStockWasmKernels` can put them back. */
const replacedStockKernels = new Map<string, KernelConfig | undefined>();

/**
 * Registers the missing training kernels for the wasm backend and, unless `fast: false`, the
 * faster replacements of slow stock kernels. Idempotent; a missing kernel is never registered
 * over one that a future tfjs-backend-wasm provides itself. Returns the names it (re)registered.
 */
export function registerWasmTrainingKernels(options: RegisterWasmTrainingKernelsOptions = {}): string[] {
  const added: string[] = [];
  for (const config of WASM_TRAINING_KERNELS) {
    if (getKernel(config.kernelName, 'wasm') !== undefined) continue;
    registerKernel(config);
    added.push(config.kernelName);
  }
  // Stock wasm kernels that compute wrong results are replaced whatever `fast` says.
  for (const config of conv3DCorrectedWasmKernels) {
    const current = getKernel(config.kernelName, 'wasm');
    if (current?.kernelFunc === config.kernelFunc) continue;
    if (current !== undefined) unregisterKernel(config.kernelName, 'wasm');
    registerKernel(config);
    added.push(config.kernelName);
  }
  if (options.fast ?? true) {
    for (const config of [...FAST_WASM_KERNELS, ...conv3DFastWasmKernels]) {
      const current = getKernel(config.kernelName, 'wasm');
      if (current?.kernelFunc === config.kernelFunc) continue;
      if (current !== undefined) unregisterKernel(config.kernelName, 'wasm');
      if (!replacedStockKernels.has(config.kernelName)) {
        replacedStockKernels.set(config.kernelName, current);
        if (current !== undefined) stockWasmKernels.set(config.kernelName, current.kernelFunc);
      }
      registerKernel(config);
      added.push(config.kernelName);
    }
    // Backend-independent and value-identical, but only worth it where Tile is cheap.
    registerFastGradients();
    // Also backend-independent and value-identical: skips the first layer's unused input gradient.
    usePerInputFusedConv2DGradients();
    // Batch-norm statistics: the input gradient of tf.moments in one pass (same forward values).
    useOnePassMomentsGradient();
    // SGD and momentum optimizers (tf.train.sgd / tf.train.momentum) update every variable in one
    // kernel on wasm, with the same values; on other backends they keep tfjs-core's path.
    useOneKernelOptimizerUpdates();
  }
  return added;
}

/** Undoes the `fast` replacements (puts tfjs-backend-wasm's own kernels back). Returns their names. */
export function restoreStockWasmKernels(): string[] {
  const restored: string[] = [];
  for (const [name, stock] of replacedStockKernels) {
    if (getKernel(name, 'wasm') !== undefined) unregisterKernel(name, 'wasm');
    if (stock !== undefined) registerKernel(stock);
    restored.push(name);
  }
  replacedStockKernels.clear();
  stockWasmKernels.clear();
  restoreStockGradients();
  restoreStockFusedConv2D();
  restoreStockMoments();
  restoreStockOptimizerUpdates();
  return restored;
}
