import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { BalancedTrainer, Greedy, GuidedScheduler, type ParameterGroupDeclaration } from '@mm/balance';
import { conditionalUtilization, type LabeledBatch } from '@mm/metrics';
import { MMTM } from '@mm/mmtm';

/**
 * "Your" model: an image branch (conv) and a signal branch (dense on a 1-D feature vector),
 * with your own layer names. The only additions for balancing are an MMTM between the two
 * branches and one head per modality.
 */
export function buildUserModel(classes: number): tfl.LayersModel {
  const image = tfl.input({ shape: [12, 12, 1], name: 'image' });
  const signal = tfl.input({ shape: [16], name: 'signal' });
  let a = tfl.layers.conv2d({ name: 'vision_conv1', filters: 8, kernelSize: 3, padding: 'same', activation: 'relu' }).apply(image) as tfl.SymbolicTensor;
  a = tfl.layers.maxPooling2d({ name: 'vision_pool', poolSize: 2 }).apply(a) as tfl.SymbolicTensor;
  let b = tfl.layers.dense({ name: 'audio_dense1', units: 12, activation: 'relu' }).apply(signal) as tfl.SymbolicTensor;
  // MMTM takes feature maps of any rank and different channel counts: NHWC [.., 8] and [.., 12].
  [a, b] = new MMTM({ name: 'fusion' }).apply([a, b]) as tfl.SymbolicTensor[];
  a = tfl.layers.globalAveragePooling2d({ name: 'vision_gap' }).apply(a) as tfl.SymbolicTensor;
  const visionHead = tfl.layers.dense({ name: 'vision_head', units: classes }).apply(a) as tfl.SymbolicTensor;
  const audioHead = tfl.layers.dense({ name: 'audio_head', units: classes }).apply(b) as tfl.SymbolicTensor;
  return tfl.model({ inputs: [image, signal], outputs: [visionHead, audioHead] });
}

/** Your names are not `m0_…`/`m1_…`, so declare the branches (θ_k); fusion weights (θ'_k) come from the MMTM. */
export const GROUPS: ParameterGroupDeclaration = {
  branches: [{ prefixes: ['vision_'] }, { prefixes: ['audio_'] }],
  strict: true,
};

/** Synthetic data: the signal's first entries encode the class cleanly; the image only faintly. */
export function* syntheticBatches(count: number, batchSize: number, classes: number, seed: number): Generator<LabeledBatch> {
  for (let i = 0; i < count; i++) {
    yield tf.tidy(() => {
      const labels = tf.randomUniform([batchSize], 0, classes, 'int32', seed * 1000 + i + 1) as tf.Tensor1D;
      const onehot = tf.cast(tf.oneHot(labels, classes), 'float32');
      const signal = tf.add(tf.pad(onehot, [[0, 0], [0, 16 - classes]]), tf.randomNormal([batchSize, 16], 0, 0.3, 'float32', seed * 1000 + i + 7));
      const faint = tf.reshape(tf.mul(tf.cast(labels, 'float32'), 0.2), [batchSize, 1, 1, 1]);
      const image = tf.add(tf.mul(tf.ones([batchSize, 12, 12, 1]), faint), tf.randomNormal([batchSize, 12, 12, 1], 0, 0.5, 'float32', seed * 1000 + i + 13));
      return { inputs: [image, signal], labels };
    });
  }
}

export interface DemoResult {
  losses: number[];
  kinds: string[];
  dSpeed: number | null;
  utilization: Awaited<ReturnType<typeof conditionalUtilization>>;
}

export async function runDemo(steps: number, log: (line: string) => void = () => {}): Promise<DemoResult> {
  const classes = 4;
  const model = buildUserModel(classes);
  const optimizer = tf.train.momentum(0.05, 0.9);
  const greedy = new Greedy({ scheduler: new GuidedScheduler({ alpha: 0.05, windowSize: 3, warmupSteps: Math.floor(steps / 4) }) });
  const trainer = new BalancedTrainer({ model, optimizer, balancer: greedy, fusion: { groups: GROUPS } });
  const losses: number[] = [];
  const kinds: string[] = [];
  for (const batch of syntheticBatches(steps, 32, classes, 1)) {
    const r = trainer.step(batch);
    tf.dispose([...batch.inputs, batch.labels]);
    losses.push(r.loss);
    kinds.push(r.metrics.rebalance === null ? 'R' : `B${r.metrics.rebalance}`);
    if (r.step % 10 === 0) log(`step ${r.step}  loss ${r.loss.toFixed(3)}  ${r.metrics.rebalance === null ? 'regular' : `rebalance m${r.metrics.rebalance}`}  d_speed ${r.metrics.dSpeed?.toFixed(3) ?? 'n/a'}`);
  }
  const utilization = await conditionalUtilization(model, {
    train: () => syntheticBatches(8, 64, classes, 2),
    test: () => syntheticBatches(8, 64, classes, 3),
  });
  const dSpeed = greedy.speed?.dSpeed() ?? null;
  trainer.dispose(); // the optimizer too
  model.dispose();
  return { losses, kinds, dSpeed, utilization };
}
