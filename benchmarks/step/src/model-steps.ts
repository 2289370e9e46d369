import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { BalancedTrainer, Greedy } from '@mm/balance';
import type { LabeledBatch } from '@mm/metrics';
import { countParams, fusedI3D, fusedResNet18 } from '@mm/models';

/**
 * The paper's two large networks at CPU scale, stepped through the library's
 * `BalancedTrainer.step` exactly as the examples train them (vanilla scheduler, so every step is
 * a regular one with the learning-speed bookkeeping on). Their PyTorch twins are in
 * torch/model_twins.py; `compare --models` times both.
 *
 * - resnet18: examples/modelnet40's `fusedResNet18` (two views, 40 classes, MMTM after
 *   layer2–4) at 64×64, plain SGD lr 0.1 without momentum (the example's paper defaults);
 * - i3d: examples/nvgesture's `fusedI3D` (RGB + depth, 25 classes, MMTM after Mixed_4c…5c) on
 *   8×64×64 clips, SGD lr 0.01 momentum 0.9 (the example's paper defaults).
 *
 * Default batches keep one step at seconds, not minutes, on two shared cores.
 */
export const MODEL_NAMES = ['resnet18', 'i3d'] as const;
export type ModelName = (typeof MODEL_NAMES)[number];

export interface ModelBench {
  /** What is built, for the printed report. */
  description: string;
  /** The optimizer, as the example builds it (also what the PyTorch twin uses). */
  optimizerLabel: string;
  defaultBatch: number;
  classes: number;
  /** Per-sample input shapes (channels last), one per modality. */
  inputShapes: number[][];
  build(): tfl.LayersModel;
  optimizer(): tf.Optimizer;
}

const RESNET_IMAGE_SIZE = 64;
const I3D_FRAMES = 8;
const I3D_SIZE = 64;

export const MODEL_BENCHES: Record<ModelName, ModelBench> = {
  resnet18: {
    description: `fusedResNet18: two ResNet18 views at ${RESNET_IMAGE_SIZE}×${RESNET_IMAGE_SIZE}, MMTM after layer2–4, 40 classes`,
    optimizerLabel: 'SGD lr 0.1, no momentum',
    defaultBatch: 8,
    classes: 40,
    inputShapes: [
      [RESNET_IMAGE_SIZE, RESNET_IMAGE_SIZE, 3],
      [RESNET_IMAGE_SIZE, RESNET_IMAGE_SIZE, 3],
    ],
    build: () => fusedResNet18({ numViews: 2, numClasses: 40, imageSize: RESNET_IMAGE_SIZE, seed: 0 }),
    optimizer: () => tf.train.sgd(0.1),
  },
  i3d: {
    description: `fusedI3D: RGB + depth I3D on ${I3D_FRAMES}×${I3D_SIZE}×${I3D_SIZE} clips, MMTM after Mixed_4c…Mixed_5c, 25 classes`,
    optimizerLabel: 'SGD lr 0.01, momentum 0.9',
    defaultBatch: 2,
    classes: 25,
    inputShapes: [
      [I3D_FRAMES, I3D_SIZE, I3D_SIZE, 3],
      [I3D_FRAMES, I3D_SIZE, I3D_SIZE, 1],
    ],
    build: () => fusedI3D({ inChannels: [3, 1], numClasses: 25, frames: I3D_FRAMES, imageSize: I3D_SIZE, seed: 0 }),
    optimizer: () => tf.train.momentum(0.01, 0.9),
  },
};

/**
 * A fixed batch of seeded uniform [0, 1) inputs (like torch.rand) and one-hot labels: the
 * benchmarks time the step, not the data.
 */
export function uniformBatch(inputShapes: readonly (readonly number[])[], classes: number, batch: number): LabeledBatch {
  return tf.tidy(() => {
    const inputs = inputShapes.map((shape, k) => tf.randomUniform([batch, ...shape], 0, 1, 'float32', 17 + k));
    const labels = tf.cast(tf.floor(tf.randomUniform([batch], 0, classes, 'float32', 3)), 'int32') as tf.Tensor1D;
    return { inputs, labels: tf.cast(tf.oneHot(labels, classes), 'float32') };
  });
}

export interface ModelStepRunner {
  readonly trainer: BalancedTrainer;
  /** Trainable parameters (PyTorch's count: batch-norm running statistics and MMTM means are not trainable). */
  readonly parameterCount: number;
  /** One `BalancedTrainer.step`; returns its loss (read back, as the twin's `float(loss)`). */
  step(): number;
  dispose(): void;
}

export function createModelStepRunner(name: ModelName, batchSize: number): ModelStepRunner {
  const bench = MODEL_BENCHES[name];
  const model = bench.build();
  const optimizer = bench.optimizer();
  const batch = uniformBatch(bench.inputShapes, bench.classes, batchSize);
  const trainer = new BalancedTrainer({ model, optimizer, balancer: new Greedy() });
  return {
    trainer,
    parameterCount: countParams(model),
    step: () => trainer.step(batch).loss,
    dispose: () => {
      optimizer.dispose();
      tf.dispose([...batch.inputs, batch.labels]);
      model.dispose();
    },
  };
}
