import type { KernelConfig } from '@tensorflow/tfjs-core';
import { conv2DBackpropInputWasmConfig } from './conv2d-backprop-input.js';
import { maxPoolGradWasmConfig } from './max-pool-grad.js';
import { tileWasmConfig } from './tile.js';
import { castWasmConfig, identityWasmConfig } from './identity.js';
import { meanSquaredDeviationWasmConfig, meanWasmConfig, sumCenteredProductWasmConfig, sumWasmConfig } from './reduce.js';
import { batchMatMulWasmConfig } from './batch-mat-mul.js';
import { fusedBatchNormWasmConfig } from './batch-norm.js';
import { conv2DWasmConfig, fusedConv2DWasmConfig } from './conv2d-simd.js';
import { optimizerUpdateWasmConfig } from './optimizer-update.js';
import { reluGradWasmConfig } from './relu-gradient.js';
import { addWasmConfig, multiplyWasmConfig, squareWasmConfig, stepWasmConfig, subWasmConfig } from './elementwise-simd.js';

/** Faster replacements for stock tfjs-backend-wasm kernels that dominate a training step. */
export const FAST_WASM_KERNELS: readonly KernelConfig[] = [
  conv2DWasmConfig,
  fusedConv2DWasmConfig,
  conv2DBackpropInputWasmConfig,
  tileWasmConfig,
  maxPoolGradWasmConfig,
  sumWasmConfig,
  meanWasmConfig,
  meanSquaredDeviationWasmConfig,
  sumCenteredProductWasmConfig,
  identityWasmConfig,
  castWasmConfig,
  batchMatMulWasmConfig,
  fusedBatchNormWasmConfig,
  addWasmConfig,
  subWasmConfig,
  multiplyWasmConfig,
  squareWasmConfig,
  stepWasmConfig,
  optimizerUpdateWasmConfig,
  reluGradWasmConfig,
];
