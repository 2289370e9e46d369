import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { BalancedTrainer, OgmGe, type Balancer } from '@mm/balance';
import { syntheticBatches } from './audio-video.js';

/**
 * The model most people already have: one encoder per modality, `concatenate`, one classifier.
 * Nothing in it is there for the balancer; the trainer reads the encoders, the merge and the
 * head off the graph.
 */
export function buildLateFusionModel(classes: number): tfl.LayersModel {
  const image = tfl.input({ shape: [12, 12, 1], name: 'image' });
  const signal = tfl.input({ shape: [16], name: 'signal' });
  let a = tfl.layers.conv2d({ name: 'vision_conv', filters: 8, kernelSize: 3, padding: 'same', activation: 'relu' }).apply(image) as tfl.SymbolicTensor;
  a = tfl.layers.globalAveragePooling2d({ name: 'vision_gap' }).apply(a) as tfl.SymbolicTensor;
  const b = tfl.layers.dense({ name: 'audio_dense', units: 12, activation: 'relu' }).apply(signal) as tfl.SymbolicTensor;
  const joined = tfl.layers.concatenate({ name: 'joined' }).apply([a, b]) as tfl.SymbolicTensor;
  const logits = tfl.layers.dense({ name: 'classifier', units: classes }).apply(joined) as tfl.SymbolicTensor;
  return tfl.model({ inputs: [image, signal], outputs: logits });
}

export interface LateFusionResult {
  losses: number[];
  /** Per-step metrics of the balancer (e.g. OGM-GE's k0, k1). */
  metrics: Record<string, number | null>[];
  accuracy: number;
  modalityAccuracy: number[] | null;
}

/** Trains the late-fusion model with a balancer (default OGM-GE) on the synthetic task where the signal dominates. */
export async function runLateFusion(steps: number, balancer: Balancer = new OgmGe({ alpha: 0.5 })): Promise<LateFusionResult> {
  const classes = 4;
  const model = buildLateFusionModel(classes);
  const trainer = new BalancedTrainer({ model, optimizer: tf.train.momentum(0.05, 0.9), balancer });
  const losses: number[] = [];
  const metrics: Record<string, number | null>[] = [];
  for (const batch of syntheticBatches(steps, 32, classes, 4)) {
    const r = trainer.step(batch);
    tf.dispose([...batch.inputs, batch.labels]);
    losses.push(r.loss);
    metrics.push(r.metrics);
  }
  const evaluation = await trainer.evaluate(syntheticBatches(4, 64, classes, 5));
  trainer.dispose();
  model.dispose();
  return { losses, metrics, accuracy: evaluation.accuracy, modalityAccuracy: evaluation.modalityAccuracy };
}
