import {
  engine,
  getBackend,
  getKernel,
  MomentumOptimizer,
  SGDOptimizer,
  tidy,
  util,
  zerosLike,
  type KernelConfig,
  type KernelFunc,
  type NamedTensorMap,
  type Scalar,
  type Tensor,
  type TensorInfo,
  type Variable,
} from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { FunctionPatch } from './function-patch.js';
import { chunkCount, partOf, simdModuleFor } from './simd/simd-module.js';
import { heapByteOffset } from './wasm-util.js';
import { ELEMENTWISE_THRESHOLDS } from './kernel-paths.js';
import { momentumOptimizerInternals, sgdOptimizerInternals, wasmHeapBuffer, type MomentumOptimizerInternals } from '../tfjs-internals.js';

/**
 * The SGD and momentum optimizers' update of every variable in one wasm call.
 *
 * tfjs-core's MomentumOptimizer.applyGradients runs four tiny kernels per variable
 * (a' = m·a + g, v' = c·a' + v, c = −learning rate): with the ~70 variables of a small
 * convolutional network that is a few hundred kernel calls per step, most of them too small to
 * be worth a kernel call at all. Here one kernel (`MmOptimizerUpdate`, csrc/kernels.c
 * `momentum_update`) updates all of them, split across the wasm threads by element ranges.
 * Every product and sum is rounded to float32 on its own, in tfjs-core's order, so the new
 * values and accumulators are bit-identical with tfjs-core's; like tfjs-core, the update writes
 * new tensors and assigns them to the variables (clones share their data, so nothing is
 * changed in place), and the accumulators are the optimizer's own slots (getWeights and
 * setWeights, hence checkpoints, see no difference).
 */
export const OPTIMIZER_UPDATE = 'MmOptimizerUpdate';

interface OptimizerUpdateAttrs {
  /** Variables updated. Inputs are v0, g0, (a0,) v1, g1, …; outputs v0', (a0',) v1', … */
  variables: number;
  /** Whether there are accumulators (momentum) or not (SGD). */
  momentum: boolean;
  /** The momentum m (float32). */
  decay: number;
  /** c = −learning rate (float32). */
  scale: number;
  nesterov: boolean;
}

const HEADER_WORDS = 2;
const ROW_WORDS = 7;

const optimizerUpdateKernel: KernelFunc = ({ inputs, backend, attrs }) => {
  const wasm = backend as BackendWasm;
  const { variables, momentum, decay, scale, nesterov } = attrs as unknown as OptimizerUpdateAttrs;
  const module = simdModuleFor(wasm);
  if (module === null) throw new Error(`${OPTIMIZER_UPDATE} needs @mm/backend's kernel module, which is off (MM_WASM_KERNELS=xnnpack) or cannot run here`);
  const named = inputs as Record<string, TensorInfo>;
  const rows: { value: TensorInfo; grad: TensorInfo; accum: TensorInfo | null; newValue: TensorInfo; newAccum: TensorInfo | null }[] = [];
  for (let k = 0; k < variables; k++) {
    const value = named[`v${k}`];
    const accum = momentum ? named[`a${k}`] : null;
    rows.push({
      value,
      grad: named[`g${k}`],
      accum,
      newValue: wasm.makeOutput(value.shape, 'float32'),
      newAccum: accum === null ? null : wasm.makeOutput(value.shape, 'float32'),
    });
  }
  const table = wasm.makeOutput([HEADER_WORDS + ROW_WORDS * variables], 'int32');
  // Offsets only now: an allocation may grow (and move the views of) the heap, not the offsets.
  const tableAt = heapByteOffset(wasm, table);
  const words = new Int32Array(wasmHeapBuffer(wasm), tableAt, HEADER_WORDS + ROW_WORDS * variables);
  const header = new Float32Array(words.buffer, tableAt, HEADER_WORDS);
  header[0] = decay;
  header[1] = scale;
  let total = 0;
  rows.forEach((row, k) => {
    const size = row.value.shape.reduce((n, d) => n * d, 1);
    const at = HEADER_WORDS + k * ROW_WORDS;
    words[at] = heapByteOffset(wasm, row.value);
    words[at + 1] = row.accum === null ? 0 : heapByteOffset(wasm, row.accum);
    words[at + 2] = heapByteOffset(wasm, row.grad);
    words[at + 3] = heapByteOffset(wasm, row.newValue);
    words[at + 4] = row.newAccum === null ? 0 : heapByteOffset(wasm, row.newAccum);
    words[at + 5] = total;
    words[at + 6] = size;
    total += size;
  });
  const parts = chunkCount(module, total, ELEMENTWISE_THRESHOLDS.minValuesPerChunk);
  try {
    module.split('momentum_update', parts, { table: tableAt, entries: variables, nesterov: nesterov ? 1 : 0 }, (part) => {
      const [begin, end] = partOf(total, parts, part, 4);
      return { begin, end };
    });
  } finally {
    wasm.disposeData(table.dataId);
  }
  return rows.flatMap((row) => (row.newAccum === null ? [row.newValue] : [row.newValue, row.newAccum]));
};

export const optimizerUpdateWasmConfig: KernelConfig = { kernelName: OPTIMIZER_UPDATE, backendName: 'wasm', kernelFunc: optimizerUpdateKernel };

type ApplyGradients = MomentumOptimizer['applyGradients'];
type VariableGradients = Parameters<ApplyGradients>[0];

/** The gradients in tfjs-core's order (array order, or the map's key order), null where absent. */
function orderedGradients(variableGradients: VariableGradients): { name: string; gradient: Tensor | null | undefined }[] {
  return Array.isArray(variableGradients)
    ? variableGradients.map((item) => ({ name: item.name, gradient: item.tensor }))
    : Object.keys(variableGradients).map((name) => ({ name, gradient: variableGradients[name] }));
}

/**
 * Whether the one-kernel update can run: on wasm with the kernel registered, float32 variables
 * with float32 gradients of the same shape (anything else is tfjs-core's to handle, or to reject).
 */
function fusedUpdateApplies(gradients: { name: string; gradient: Tensor | null | undefined }[], accumulations?: MomentumOptimizerInternals['accumulations']): boolean {
  if (getBackend() !== 'wasm' || getKernel(OPTIMIZER_UPDATE, 'wasm') === undefined) return false;
  // MM_WASM_KERNELS=xnnpack (or an engine the kernel module cannot run on): tfjs-core's own update.
  if (simdModuleFor(engine().backend as BackendWasm) === null) return false;
  const registered = engine().registeredVariables;
  return gradients.every(({ name, gradient }, i) => {
    const value = registered[name];
    const accum = accumulations?.[i]?.variable;
    if (value === undefined || value.dtype !== 'float32') return false;
    if (accum !== undefined && (accum.dtype !== 'float32' || !util.arraysEqual(accum.shape, value.shape))) return false;
    return gradient == null || (gradient.dtype === 'float32' && util.arraysEqual(gradient.shape, value.shape));
  });
}

function runUpdate(
  rows: { value: Variable; gradient: Tensor; accum: Variable | null }[],
  settings: { decay: number; scale: number; nesterov: boolean },
): void {
  if (rows.length === 0) return;
  const momentum = rows[0].accum !== null;
  tidy(() => {
    const inputs: NamedTensorMap = {};
    rows.forEach((row, k) => {
      inputs[`v${k}`] = row.value;
      inputs[`g${k}`] = row.gradient;
      if (row.accum !== null) inputs[`a${k}`] = row.accum;
    });
    const attrs: OptimizerUpdateAttrs = { variables: rows.length, momentum, ...settings };
    const outputs = engine().runKernel(OPTIMIZER_UPDATE, inputs, attrs as never) as unknown as Tensor[];
    const perRow = momentum ? 2 : 1;
    rows.forEach((row, k) => {
      if (row.accum !== null) row.accum.assign(outputs[k * perRow + 1]);
      row.value.assign(outputs[k * perRow]);
    });
  });
}

/** MomentumOptimizer.applyGradients in one kernel: the same slots, the same values. */
function momentumApplyGradients(this: MomentumOptimizer, variableGradients: VariableGradients): void {
  const self = momentumOptimizerInternals(this);
  const gradients = orderedGradients(variableGradients);
  if (!fusedUpdateApplies(gradients, self.accumulations)) {
    momentumPatch.stock.call(this, variableGradients);
    return;
  }
  const registered = engine().registeredVariables;
  const rows: { value: Variable; gradient: Tensor; accum: Variable }[] = [];
  gradients.forEach(({ name, gradient }, i) => {
    const value = registered[name];
    // Created as tfjs-core creates them (position i, named after the variable, not trainable), also for absent gradients.
    self.accumulations[i] ??= { originalName: `${name}/momentum`, variable: tidy(() => zerosLike(value).variable(false)) };
    if (gradient != null) rows.push({ value, gradient, accum: self.accumulations[i]!.variable });
  });
  runUpdate(rows, { decay: self.m.dataSync()[0], scale: self.c.dataSync()[0], nesterov: self.useNesterov });
  self.incrementIterations();
}

/** SGDOptimizer.applyGradients in one kernel. */
function sgdApplyGradients(this: SGDOptimizer, variableGradients: VariableGradients): void {
  const self = sgdOptimizerInternals(this);
  const gradients = orderedGradients(variableGradients);
  if (!fusedUpdateApplies(gradients)) {
    sgdPatch.stock.call(this, variableGradients);
    return;
  }
  const registered = engine().registeredVariables;
  const rows = gradients.flatMap(({ name, gradient }) => (gradient == null ? [] : [{ value: registered[name], gradient, accum: null }]));
  runUpdate(rows, { decay: 0, scale: self.c.dataSync()[0], nesterov: false });
  self.incrementIterations();
}

// Patched on the prototypes, so that every optimizer a user makes with tf.train.sgd or
// tf.train.momentum takes it (subclasses with their own applyGradients keep theirs).
const momentumPatch = new FunctionPatch<ApplyGradients>(
  () => MomentumOptimizer.prototype as unknown as Record<string, unknown>,
  'applyGradients',
  momentumApplyGradients,
);
const sgdPatch = new FunctionPatch<ApplyGradients>(() => SGDOptimizer.prototype as unknown as Record<string, unknown>, 'applyGradients', sgdApplyGradients);

/**
 * Routes SGD and momentum optimizers' updates through the one-kernel update when they run on
 * wasm (elsewhere, and for other dtypes, they keep tfjs-core's path). Idempotent.
 */
export function useOneKernelOptimizerUpdates(): boolean {
  const momentum = momentumPatch.install();
  const sgd = sgdPatch.install();
  return momentum && sgd;
}

/** Puts tfjs-core's applyGradients of SGD and momentum back. */
export function restoreStockOptimizerUpdates(): void {
  momentumPatch.restore();
  sgdPatch.restore();
}
