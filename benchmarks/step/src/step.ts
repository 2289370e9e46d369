import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { buildNetwork, CLASSES, IMAGE_SIZE, INPUT_CHANNELS, parameterGroups, type GroupName } from './network.js';

/**
 * What one timed step does:
 * - `vanilla`: forward, backward, learning-speed bookkeeping, SGD update (torch_twin's vanilla);
 * - `plain`: the same without the bookkeeping (to measure the balancer's overhead);
 * - `rebalance`: as vanilla, with modality 0's MMTM gates replaced by their detached batch means;
 * - `unimodal`: both branches without MMTM and without bookkeeping (torch_twin's unimodal).
 */
export const MODES = ['vanilla', 'plain', 'rebalance', 'unimodal'] as const;
export type Mode = (typeof MODES)[number];

export const LEARNING_RATE = 0.01;
export const MOMENTUM = 0.9;

export interface StepRunner {
  mode: Mode;
  /** One full training step; returns the loss (read back, as torch_twin's `float(loss)`). */
  step(): number;
  /** The last step's learning-speed terms Σ‖g‖²/Σ‖θ‖² per group (empty when the mode skips them). */
  lastSpeedTerms(): Partial<Record<GroupName, number>>;
  parameterCount: number;
  dispose(): void;
}

/** Deterministic uniform [0, 1) values, like torch.rand, without depending on tf's RNG state. */
function uniform(size: number, seed: number): Float32Array {
  const out = new Float32Array(size);
  let state = seed >>> 0 || 1;
  for (let i = 0; i < size; i++) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    out[i] = (state >>> 0) / 2 ** 32;
  }
  return out;
}

export function createStepRunner(mode: Mode, batch: number): StepRunner {
  const { model, control } = buildNetwork(mode !== 'unimodal');
  const bookkeeping = mode === 'vanilla' || mode === 'rebalance';
  control.rebalanceModality = mode === 'rebalance' ? 0 : null;

  const xs = INPUT_CHANNELS.map((c, k) =>
    tf.tensor4d(uniform(batch * IMAGE_SIZE * IMAGE_SIZE * c, 17 + k), [batch, IMAGE_SIZE, IMAGE_SIZE, c]),
  );
  const labels = Int32Array.from(uniform(batch, 3), (u) => Math.floor(u * CLASSES));
  const oneHot = tf.tidy(() => tf.oneHot(tf.tensor1d(labels, 'int32'), CLASSES));
  const optimizer = tf.train.momentum(LEARNING_RATE, MOMENTUM);
  const trainable = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const groups = parameterGroups(model as tfl.LayersModel);
  const groupNames = Object.keys(groups) as GroupName[];
  let speedTerms: Partial<Record<GroupName, number>> = {};

  const lossFn = (): tf.Scalar => {
    const logits = model.apply(xs, { training: true }) as tf.Tensor[];
    return logits
      .map((y) => tf.losses.softmaxCrossEntropy(oneHot, y) as tf.Scalar)
      .reduce((a, b) => tf.add(a, b) as tf.Scalar);
  };

  const step = (): number => {
    const lossValue = tf.tidy(() => {
      const { value, grads } = tf.variableGrads(lossFn, trainable);
      if (bookkeeping) {
        // All eight sums are reduced in wasm and read back in one transfer.
        const sums = groupNames.flatMap((name) => [
          tf.addN(groups[name].map((v) => tf.sum(tf.square(grads[v.name])))),
          tf.addN(groups[name].map((v) => tf.sum(tf.square(v)))),
        ]);
        const values = tf.stack(sums).dataSync();
        speedTerms = Object.fromEntries(groupNames.map((name, i) => [name, values[2 * i] / values[2 * i + 1]]));
      }
      optimizer.applyGradients(Object.entries(grads).map(([name, tensor]) => ({ name, tensor })));
      return value.dataSync()[0];
    });
    return lossValue;
  };

  return {
    mode,
    step,
    lastSpeedTerms: () => speedTerms,
    parameterCount: model.countParams(),
    dispose: () => {
      optimizer.dispose();
      xs.forEach((x) => x.dispose());
      oneHot.dispose();
      model.dispose();
    },
  };
}
