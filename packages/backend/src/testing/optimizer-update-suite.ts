// The one-kernel optimizer update's tests, run by optimizer-update.test.ts (1 wasm thread) and
// optimizer-update-threads.test.ts (2 threads: the update split across the pool).
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { describe, expect, it } from 'vitest';
import { registerWasmTrainingKernels, restoreStockWasmKernels } from '../kernels/register-wasm.js';
import { OPTIMIZER_UPDATE, restoreStockOptimizerUpdates, useOneKernelOptimizerUpdates } from '../kernels/optimizer-update.js';
import { relativeError } from '../kernels/test-values.js';

/**
 * Odd sizes (none a multiple of 4 or 16, so every SIMD loop has a scalar tail), two of them
 * large enough that a 2-thread pool cuts them into several element ranges, and a scalar.
 */
const SHAPES: number[][] = [[3, 3, 5, 7], [1], [13], [17, 19], [129, 131], [3, 3, 37, 41], [33, 65], []];
/** Variable 2 gets no gradient on this step (its slot must still be created, as tfjs-core does). */
const STEP_WITHOUT_GRADIENT = 1;
const STEPS = 5;
/** cpu and wasm both round every op to float32; the bound only allows for a different order inside a kernel. */
const CPU_TOLERANCE = 1e-6;

type OptimizerKind = 'momentum' | 'nesterov' | 'sgd';

let runs = 0;

function makeOptimizer(kind: OptimizerKind): tf.Optimizer {
  if (kind === 'sgd') return tf.train.sgd(0.05);
  return tf.train.momentum(0.01, 0.9, kind === 'nesterov');
}

/**
 * Gradients of step `step`: seeded, the same on every backend (tfjs draws them in JS). Seeds
 * start at 1: tfjs's randomNormal takes seed 0 for "no seed".
 */
function gradientsOf(variables: tf.Variable[], step: number): Record<string, tf.Tensor | null> {
  return Object.fromEntries(
    variables.map((v, k) => [v.name, step === STEP_WITHOUT_GRADIENT && k === 2 ? null : tf.randomNormal(v.shape, 0, 1, 'float32', 1000 * step + k + 1)]),
  );
}

interface Trained {
  values: Float32Array[];
  slots: { name: string; values: Float32Array }[];
  kernels: string[];
}

/** Trains fresh variables for STEPS steps with `kind` on the current backend and reads everything back. */
async function train(kind: OptimizerKind): Promise<Trained> {
  const run = runs++;
  const variables = SHAPES.map((shape, k) => tf.variable(tf.randomUniform(shape, -1, 1, 'float32', k + 1), true, `update-${run}-${k}`));
  const optimizer = makeOptimizer(kind);
  let kernels: string[] = [];
  for (let step = 0; step < STEPS; step++) {
    const apply = () =>
      tf.tidy(() => {
        optimizer.applyGradients(gradientsOf(variables, step) as tf.NamedTensorMap);
      });
    if (step === STEPS - 1) kernels = (await tf.profile(apply)).kernelNames;
    else apply();
  }
  const weights = await optimizer.getWeights();
  const trained: Trained = {
    values: variables.map((v) => v.dataSync() as Float32Array),
    slots: weights.slice(1).map((w) => ({ name: w.name.replace(`update-${run}-`, ''), values: w.tensor.dataSync() as Float32Array })),
    kernels,
  };
  optimizer.dispose();
  tf.dispose(variables);
  return trained;
}

async function trainStock(kind: OptimizerKind): Promise<Trained> {
  restoreStockOptimizerUpdates();
  try {
    return await train(kind);
  } finally {
    useOneKernelOptimizerUpdates();
  }
}

/** Indices where the float32 bit patterns differ (the first few), for a readable failure. */
function bitDifferences(actual: Float32Array, expected: Float32Array): number[] {
  const a = new Uint32Array(actual.buffer, actual.byteOffset, actual.length);
  const b = new Uint32Array(expected.buffer, expected.byteOffset, expected.length);
  const differing: number[] = [];
  if (a.length !== b.length) return [-1];
  for (let i = 0; i < a.length && differing.length < 5; i++) if (a[i] !== b[i]) differing.push(i);
  return differing;
}

function expectBitIdentical(actual: Trained, expected: Trained): void {
  expect(actual.values.length).toBe(expected.values.length);
  actual.values.forEach((values, k) => expect(bitDifferences(values, expected.values[k]), `variable ${k}`).toEqual([]));
  expect(actual.slots.map((s) => s.name)).toEqual(expected.slots.map((s) => s.name));
  actual.slots.forEach((slot, k) => expect(bitDifferences(slot.values, expected.slots[k].values), `slot ${slot.name}`).toEqual([]));
}

/** Registers the suite; the test file has set up the wasm backend with `threads` threads and the fast kernels. */
export function describeOptimizerUpdate(threads: number): void {
  describe(`one-kernel optimizer update on wasm (${threads} thread${threads > 1 ? 's' : ''})`, () => {
    for (const kind of ['momentum', 'nesterov', 'sgd'] as const) {
      it(`${kind}: bit-identical values and slots with tfjs-core's update, in one kernel per step`, async () => {
        const fused = await train(kind);
        const stock = await trainStock(kind);
        expect(fused.kernels).toEqual([OPTIMIZER_UPDATE]);
        expect(stock.kernels).not.toContain(OPTIMIZER_UPDATE);
        expect(stock.kernels).toContain('Multiply');
        expectBitIdentical(fused, stock);
        if (kind !== 'sgd') {
          expect(fused.slots.map((s) => s.name)).toEqual(SHAPES.map((_, k) => `${k}/momentum`));
        }
      });
    }

    it('matches the cpu backend (which keeps tfjs-core’s update)', async () => {
      for (const kind of ['momentum', 'nesterov'] as const) {
        const onWasm = await train(kind);
        await tf.setBackend('cpu');
        let onCpu: Trained;
        try {
          onCpu = await train(kind);
        } finally {
          await tf.setBackend('wasm');
        }
        expect(onCpu.kernels).not.toContain(OPTIMIZER_UPDATE);
        onWasm.values.forEach((values, k) => expect(relativeError(values, onCpu.values[k]), `${kind} variable ${k}`).toBeLessThanOrEqual(CPU_TOLERANCE));
        onWasm.slots.forEach((slot, k) => expect(relativeError(slot.values, onCpu.slots[k].values), `${kind} ${slot.name}`).toBeLessThanOrEqual(CPU_TOLERANCE));
      }
    });

    it('keeps the tensor count constant across steps', () => {
      const variables = SHAPES.map((shape, k) => tf.variable(tf.randomUniform(shape, -1, 1, 'float32', k + 1), true, `update-count-${runs++}-${k}`));
      const optimizer = makeOptimizer('momentum');
      const step = (i: number) =>
        tf.tidy(() => {
          optimizer.applyGradients(gradientsOf(variables, i + 10) as tf.NamedTensorMap);
        });
      // The first step creates the slots.
      step(0);
      const before = tf.memory().numTensors;
      for (let i = 1; i < 6; i++) step(i);
      expect(tf.memory().numTensors).toBe(before);
      optimizer.dispose();
      tf.dispose(variables);
    });

    it('leaves a gradient of the wrong shape to tfjs-core, which rejects it', () => {
      const variable = tf.variable(tf.zeros([2, 3]), true, `update-shape-${runs++}`);
      const optimizer = makeOptimizer('momentum');
      const gradient = tf.ones([3, 2]);
      expect(() => optimizer.applyGradients({ [variable.name]: gradient })).toThrow(/broadcast/);
      optimizer.dispose();
      tf.dispose([variable, gradient]);
    });

    it('resumes from getWeights/setWeights (a checkpoint) exactly where the original goes on', async () => {
      const run = runs++;
      const original = SHAPES.map((shape, k) => tf.variable(tf.randomUniform(shape, -1, 1, 'float32', k + 1), true, `update-${run}-a${k}`));
      const optimizer = makeOptimizer('momentum');
      const stepWith = (opt: tf.Optimizer, variables: tf.Variable[], step: number) =>
        tf.tidy(() => {
          const gradients = gradientsOf(original, step);
          opt.applyGradients(Object.fromEntries(variables.map((v, k) => [v.name, gradients[original[k].name]])) as tf.NamedTensorMap);
        });
      for (let step = 0; step < 3; step++) stepWith(optimizer, original, step);
      // What a checkpoint holds: copies of the values and of the optimizer's weights.
      const resumed = original.map((v, k) => tf.variable(v.clone(), true, `update-${run}-b${k}`));
      const saved = (await optimizer.getWeights()).map((w) => ({ name: w.name, tensor: w.tensor.clone() }));
      const restored = makeOptimizer('momentum');
      await restored.setWeights(saved);
      for (let step = 3; step < STEPS; step++) {
        stepWith(optimizer, original, step);
        stepWith(restored, resumed, step);
      }
      original.forEach((v, k) => expect(bitDifferences(resumed[k].dataSync() as Float32Array, v.dataSync() as Float32Array), `variable ${k}`).toEqual([]));
      optimizer.dispose();
      restored.dispose();
      tf.dispose([...original, ...resumed, ...saved.map((w) => w.tensor)]);
    });

    it('leaves applyGradients to tfjs-core after restoreStockWasmKernels, and comes back', async () => {
      const momentumPrototype = tf.MomentumOptimizer.prototype;
      const fusedApply = momentumPrototype.applyGradients;
      restoreStockWasmKernels();
      try {
        expect(momentumPrototype.applyGradients).not.toBe(fusedApply);
        expect(tf.getKernel(OPTIMIZER_UPDATE, 'wasm')).toBeUndefined();
        const stock = await train('momentum');
        expect(stock.kernels).not.toContain(OPTIMIZER_UPDATE);
      } finally {
        registerWasmTrainingKernels();
      }
      expect(momentumPrototype.applyGradients).toBe(fusedApply);
      expect((await train('momentum')).kernels).toEqual([OPTIMIZER_UPDATE]);
    });
  });
}
