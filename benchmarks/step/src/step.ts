import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { createRng } from '@mm/datasets';
import { groupSquaredNorms } from '@mm/metrics';
import { setFusionMode, setFusionRecording } from '@mm/mmtm';
import { buildNetwork, CLASSES, IMAGE_SIZE, INPUT_CHANNELS, parameterGroups, type GroupName } from './network.js';

/**
 * What one timed step does:
 * - `vanilla`: forward, backward, SGD update and the balancer's bookkeeping of a regular step
 *   (learning-speed terms Σ‖g‖²/Σ‖θ‖², MMTM excitation recording): torch_twin's vanilla step;
 * - `plain`: the same without the bookkeeping (to measure the balancer's overhead);
 * - `rebalance`: as vanilla, with modality 0's MMTM excitations replaced by their recorded mean
 *   (the paper's re-balancing step; torch_twin uses the detached batch mean, same cost);
 * - `unimodal`: both branches without MMTM and without bookkeeping (torch_twin's unimodal).
 */
export const MODES = ['vanilla', 'plain', 'rebalance', 'unimodal'] as const;
export type Mode = (typeof MODES)[number];

export const LEARNING_RATE = 0.01;
export const MOMENTUM = 0.9;

export interface StepRunner {
  mode: Mode;
  /** One full training step; resolves to the loss (read back, as torch_twin's `float(loss)`). */
  step(): number | Promise<number>;
  /** The last step's learning-speed terms Σ‖g‖²/Σ‖θ‖² per group (empty when the mode skips them). */
  lastSpeedTerms(): Partial<Record<GroupName, number>>;
  /** Trainable parameters (PyTorch's count; tfjs's countParams() adds batch-norm running statistics). */
  parameterCount: number;
  dispose(): void | Promise<void>;
}

/** Deterministic uniform [0, 1) values, like torch.rand, without depending on tf's RNG state. */
function uniform(size: number, seed: number): Float32Array {
  const rng = createRng(seed);
  return Float32Array.from({ length: size }, rng.next);
}

export const usesBookkeeping = (mode: Mode) => mode === 'vanilla' || mode === 'rebalance';

/**
 * One copy of the network with its share of the (fixed, random) batch: samples
 * [shard·batch/shards, (shard+1)·batch/shards). Data-parallel workers each hold one.
 */
export class Replica {
  readonly model: tfl.LayersModel;
  readonly trainable: tf.Variable[];
  private readonly xs: tf.Tensor4D[];
  private readonly oneHot: tf.Tensor2D;

  constructor(mode: Mode, batch: number, shard = 0, shards = 1) {
    const model = buildNetwork(mode !== 'unimodal');
    this.model = model;
    this.trainable = model.trainableWeights.map((w) => w.read() as tf.Variable);
    const from = Math.floor((shard * batch) / shards);
    const to = Math.floor(((shard + 1) * batch) / shards);
    const pixels = IMAGE_SIZE * IMAGE_SIZE;
    this.xs = INPUT_CHANNELS.map((c, k) => {
      const all = uniform(batch * pixels * c, 17 + k);
      return tf.tensor4d(all.subarray(from * pixels * c, to * pixels * c), [to - from, IMAGE_SIZE, IMAGE_SIZE, c]);
    });
    const labels = Int32Array.from(uniform(batch, 3).subarray(from, to), (u) => Math.floor(u * CLASSES));
    this.oneHot = tf.tidy(() => tf.oneHot(tf.tensor1d(labels, 'int32'), CLASSES) as tf.Tensor2D);
    if (mode === 'rebalance') {
      // Re-balancing needs the excitation means of preceding regular steps: record one pass.
      setFusionRecording(model, 'excitation');
      tf.tidy(() => {
        model.apply(this.xs, { training: true });
      });
      setFusionRecording(model, 'none');
      setFusionMode(model, { kind: 'rebalance', modality: 0 });
    } else if (mode === 'vanilla') {
      setFusionRecording(model, 'excitation');
    }
  }

  /** Loss and gradients of this replica's samples (call inside tf.tidy). */
  gradients(): { value: tf.Scalar; grads: tf.NamedTensorMap } {
    return tf.variableGrads(() => {
      const logits = this.model.apply(this.xs, { training: true }) as tf.Tensor[];
      return logits
        .map((y) => tf.losses.softmaxCrossEntropy(this.oneHot, y) as tf.Scalar)
        .reduce((a, b) => tf.add(a, b) as tf.Scalar);
    }, this.trainable);
  }

  dispose(): void {
    this.xs.forEach((x) => x.dispose());
    this.oneHot.dispose();
    this.model.dispose();
  }
}

/**
 * Σ‖g‖²/Σ‖θ‖² per parameter group, through @mm/metrics' groupSquaredNorms (what the balancer's
 * trainer runs), read back in one transfer (call inside tf.tidy).
 */
export function speedTerms(
  groups: Record<GroupName, tf.Variable[]>,
  grads: tf.NamedTensorMap,
): Partial<Record<GroupName, number>> {
  const names = Object.keys(groups) as GroupName[];
  // A weight off the graph (excitation k during a re-balancing step of k) has no gradient: left out (0).
  const gradGroups = names.map((name) => groups[name].flatMap((v) => (grads[v.name] ? [grads[v.name]] : [])));
  const values = tf.concat([groupSquaredNorms(gradGroups), groupSquaredNorms(names.map((name) => groups[name]))]).dataSync();
  return Object.fromEntries(names.map((name, i) => [name, values[i] / values[names.length + i]]));
}

export function createStepRunner(mode: Mode, batch: number): StepRunner {
  const replica = new Replica(mode, batch);
  const optimizer = tf.train.momentum(LEARNING_RATE, MOMENTUM);
  const groups = parameterGroups(replica.model);
  let terms: Partial<Record<GroupName, number>> = {};

  const step = (): number =>
    tf.tidy(() => {
      const { value, grads } = replica.gradients();
      if (usesBookkeeping(mode)) terms = speedTerms(groups, grads);
      optimizer.applyGradients(Object.entries(grads).map(([name, tensor]) => ({ name, tensor })));
      return value.dataSync()[0];
    });

  return {
    mode,
    step,
    lastSpeedTerms: () => terms,
    parameterCount: replica.trainable.reduce((n, v) => n + v.size, 0),
    dispose: () => {
      optimizer.dispose();
      replica.dispose();
    },
  };
}
