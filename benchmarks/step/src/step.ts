import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import {
  BalancedTrainer,
  REGULAR,
  sumOfCrossEntropies,
  Greedy,
  type Scheduler,
  type SchedulerState,
  type StepKind,
} from '@mm/balance';
import type { LabeledBatch } from '@mm/metrics';
import { buildNetwork, CLASSES, IMAGE_SIZE, INPUT_CHANNELS, WIDTHS, type Widths } from './network.js';

/**
 * What one timed step is:
 * - `vanilla`: the library's `BalancedTrainer.step` with the vanilla scheduler and the
 *   learning-speed bookkeeping on (torch_twin's vanilla step);
 * - `plain`: the same network and optimizer stepped by hand, with no bookkeeping at all: the
 *   baseline that the bookkeeping's overhead (vanilla ÷ plain − 1) is measured against;
 * - `rebalance`: `BalancedTrainer.step` taking re-balancing steps of modality 0 (torch_twin's
 *   rebalance mode);
 * - `unimodal`: `BalancedTrainer.step` on the net without MMTM, learning speed off
 *   (torch_twin's unimodal mode).
 */
export const MODES = ['vanilla', 'plain', 'rebalance', 'unimodal'] as const;
export type Mode = (typeof MODES)[number];

const TRAINER_STEP = 'BalancedTrainer.step (@mm/balance)';

/** The code each mode times, and how it is set up: printed with the results so nobody mistakes one for another. */
export const MODE_DESCRIPTIONS: Record<Mode, { timed: string; setting: string }> = {
  vanilla: { timed: TRAINER_STEP, setting: 'MMTM net, VanillaScheduler, learning-speed bookkeeping on' },
  plain: { timed: 'tf.variableGrads + optimizer.applyGradients', setting: 'MMTM net, sum of the heads’ cross-entropies, no bookkeeping' },
  rebalance: { timed: TRAINER_STEP, setting: 'MMTM net, every timed step re-balances modality 0' },
  unimodal: { timed: TRAINER_STEP, setting: "net without MMTM (fusion: 'none'), learningSpeed: false" },
};

export const LEARNING_RATE = 0.01;
export const MOMENTUM = 0.9;

export interface StepRunner {
  readonly mode: Mode;
  /** One full training step; returns its loss (read back, as torch_twin's `float(loss)`). */
  step(): number;
  /** The trainer behind the step (every mode but `plain`). */
  readonly trainer: BalancedTrainer | undefined;
  /** Trainable parameters (PyTorch's count; tfjs's countParams() adds batch-norm running statistics). */
  readonly parameterCount: number;
  dispose(): void;
}

/**
 * A fixed batch of seeded uniform [0, 1) images (like torch.rand) and one-hot labels: the
 * benchmark times the step, not the data.
 */
export function randomBatch(batch: number): LabeledBatch {
  return tf.tidy(() => {
    const inputs = INPUT_CHANNELS.map((channels, k) => tf.randomUniform([batch, IMAGE_SIZE, IMAGE_SIZE, channels], 0, 1, 'float32', 17 + k));
    const classes = tf.cast(tf.floor(tf.randomUniform([batch], 0, CLASSES, 'float32', 3)), 'int32') as tf.Tensor1D;
    return { inputs, labels: tf.cast(tf.oneHot(classes, CLASSES), 'float32') };
  });
}

/**
 * Re-balances `modality` at every step, after one regular step: MMTM's re-balancing replaces
 * the excitations by the means recorded on regular steps, so one must come first.
 */
export class AlwaysRebalanceScheduler implements Scheduler {
  readonly name = 'always-rebalance';
  private regularStepTaken = false;

  constructor(readonly modality: number) {}

  next(): StepKind {
    return this.regularStepTaken ? { type: 'rebalance', modality: this.modality } : REGULAR;
  }

  afterStep(kind: StepKind): void {
    if (kind.type === 'regular') this.regularStepTaken = true;
  }

  toJSON(): SchedulerState {
    return { name: this.name, modality: this.modality, regularStepTaken: this.regularStepTaken };
  }
}

const trainableCount = (model: tfl.LayersModel) => model.trainableWeights.reduce((n, w) => n + (w.read() as tf.Variable).size, 0);

function trainerFor(mode: Exclude<Mode, 'plain'>, model: tfl.LayersModel, optimizer: tf.Optimizer): BalancedTrainer {
  switch (mode) {
    case 'vanilla':
      return new BalancedTrainer({ model, optimizer, balancer: new Greedy() });
    case 'rebalance':
      return new BalancedTrainer({ model, optimizer, balancer: new Greedy({ scheduler: new AlwaysRebalanceScheduler(0) }) });
    case 'unimodal':
      return new BalancedTrainer({ model, optimizer });
  }
}

/** The hand-stepped baseline: gradients of Σ_k CE and the optimizer's update, nothing else. */
function plainStep(model: tfl.LayersModel, optimizer: tf.Optimizer, batch: LabeledBatch): () => number {
  const variables = model.trainableWeights.map((w) => w.read() as tf.Variable);
  return () =>
    tf.tidy(() => {
      const { value, grads } = tf.variableGrads(() => {
        const heads = model.apply(batch.inputs, { training: true }) as tf.Tensor2D[];
        return sumOfCrossEntropies.compute(heads, batch.labels as tf.Tensor2D);
      }, variables);
      optimizer.applyGradients(grads);
      return value.dataSync()[0];
    });
}

export function createStepRunner(mode: Mode, batchSize: number, widths: Widths = WIDTHS): StepRunner {
  const model = buildNetwork(mode !== 'unimodal', widths);
  const optimizer = tf.train.momentum(LEARNING_RATE, MOMENTUM);
  const batch = randomBatch(batchSize);
  const trainer = mode === 'plain' ? undefined : trainerFor(mode, model, optimizer);
  const step = trainer ? () => trainer.step(batch).loss : plainStep(model, optimizer, batch);
  // The re-balancing scheduler's one regular step, taken here so that every timed step re-balances.
  if (mode === 'rebalance') step();
  return {
    mode,
    step,
    trainer,
    parameterCount: trainableCount(model),
    dispose: () => {
      optimizer.dispose();
      tf.dispose([...batch.inputs, batch.labels]);
      model.dispose();
    },
  };
}
