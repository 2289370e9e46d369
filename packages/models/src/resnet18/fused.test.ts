import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { initBackend } from '@mm/backend';
import { beforeAll, describe, expect, it } from 'vitest';
import { countParams } from '../count-params.js';
import { fusedResNet18, resnet18SE } from './fused.js';
import { resnet18 } from './resnet18.js';
import { importTorchResNet18IntoBranches, resnet18TorchBindings } from './torch-weights.js';
import { encodeSafetensors, parseSafetensors } from '../weights/safetensors.js';
import { exportTorchStateDict } from '../weights/torch-import.js';

beforeAll(async () => {
  await initBackend({ backend: 'wasm', log: false });
});

/** Trainable parameters of the layers whose names start with `prefix`. */
function paramsWithPrefix(model: tfl.LayersModel, prefix: string): number {
  return model.layers
    .filter((l) => l.name.startsWith(prefix))
    .flatMap((l) => l.trainableWeights)
    .reduce((sum, w) => sum + w.shape.reduce((a: number, b) => a * (b ?? 1), 1), 0);
}

/** MMTM parameters for K modalities of C channels each, ratio r: Dense(K·C → h) + K × Dense(h → C), h = int(2·K·C/r). */
function mmtmParams(channels: number, views: number, ratio: number): number {
  const hidden = Math.floor((2 * channels * views) / ratio);
  return views * channels * hidden + hidden + views * (hidden * channels + channels);
}

describe('fusedResNet18', () => {
  it('has one ResNet18 per view, MMTMs after layer2/3/4 and the naming @mm/balance relies on', () => {
    const numClasses = 40;
    const model = fusedResNet18({ numViews: 2, numClasses, imageSize: 64 });
    expect(model.inputNames).toEqual(['x_m0', 'x_m1']);
    expect(model.outputs.map((o) => o.shape)).toEqual([
      [null, numClasses],
      [null, numClasses],
    ]);
    const withWeights = model.layers.filter((l) => l.weights.length > 0).map((l) => l.name);
    expect(withWeights.filter((n) => n.startsWith('mmtm_'))).toEqual(['mmtm_layer2', 'mmtm_layer3', 'mmtm_layer4']);
    expect(withWeights.every((n) => /^(m[01]_|mmtm_layer[234]$)/.test(n))).toBe(true);
    expect(model.outputNames).toEqual(['m0_fc', 'm1_fc']);

    const single = resnet18({ numClasses, imageSize: 64 });
    expect(paramsWithPrefix(model, 'm0_')).toBe(countParams(single));
    expect(paramsWithPrefix(model, 'm1_')).toBe(countParams(single));
    const ratio = 4;
    const fusion = [128, 256, 512].reduce((sum, c) => sum + mmtmParams(c, 2, ratio), 0);
    expect(paramsWithPrefix(model, 'mmtm_')).toBe(fusion);
    expect(countParams(model)).toBe(2 * countParams(single) + fusion);
    single.dispose();
    model.dispose();
  });

  it('fuses three views with one MMTM per stage across all of them', () => {
    const model = fusedResNet18({ numViews: 3, numClasses: 5, imageSize: 32 });
    expect(model.inputNames).toEqual(['x_m0', 'x_m1', 'x_m2']);
    expect(model.outputNames).toEqual(['m0_fc', 'm1_fc', 'm2_fc']);
    const fusion = [128, 256, 512].reduce((sum, c) => sum + mmtmParams(c, 3, 4), 0);
    expect(paramsWithPrefix(model, 'mmtm_')).toBe(fusion);
    const outputs = tf.tidy(() => {
      const x = tf.ones([2, 32, 32, 3]);
      return (model.predict([x, x, x]) as tf.Tensor[]).map((t) => t.shape);
    });
    expect(outputs).toEqual([
      [2, 5],
      [2, 5],
      [2, 5],
    ]);
    model.dispose();
  });

  it('takes torchvision weights into every branch (ImageNet head skipped), leaving the MMTMs alone', () => {
    const torchvisionLike = resnet18({ numClasses: 1000, imageSize: 32 });
    const file = parseSafetensors(encodeSafetensors(exportTorchStateDict(resnet18TorchBindings(torchvisionLike))));
    const model = fusedResNet18({ numViews: 2, numClasses: 40, imageSize: 32 });
    const mmtmBefore = model.getLayer('mmtm_layer3').getWeights()[0].dataSync().slice();
    const reports = importTorchResNet18IntoBranches(model, file, { skipHead: true });
    expect(reports).toHaveLength(2);
    for (const k of [0, 1]) {
      const imported = model.getLayer(`m${k}_layer3_1_conv2`).getWeights()[0].dataSync();
      expect(Array.from(imported)).toEqual(Array.from(torchvisionLike.getLayer('layer3_1_conv2').getWeights()[0].dataSync()));
    }
    expect(Array.from(model.getLayer('mmtm_layer3').getWeights()[0].dataSync())).toEqual(Array.from(mmtmBefore));
    torchvisionLike.dispose();
    model.dispose();
  });

  it('rejects a single view and bad stages', () => {
    expect(() => fusedResNet18({ numViews: 1 })).toThrow(/numViews/);
    expect(() => fusedResNet18({ fusionStages: [5 as 4] })).toThrow(/fusion stages/);
  });

  it('trains on wasm at 64×64: the summed head loss falls and no tensors leak', () => {
    const views = 2;
    const numClasses = 4;
    const batch = 4;
    const steps = 4;
    const model = fusedResNet18({ numViews: views, numClasses, imageSize: 64 });
    const optimizer = tf.train.sgd(0.02);
    const inputs = Array.from({ length: views }, (_, k) => tf.randomNormal([batch, 64, 64, 3], 0, 1, 'float32', 11 + k));
    const labels = tf.oneHot(tf.tensor1d([0, 1, 2, 3], 'int32'), numClasses);
    const losses: number[] = [];
    const tensorCounts: number[] = [];
    for (let step = 0; step < steps; step++) {
      const cost = optimizer.minimize(() => {
        const logits = model.apply(inputs, { training: true }) as tf.Tensor[];
        // The reference's loss: the sum of the heads' cross-entropies.
        return tf.addN(logits.map((l) => tf.losses.softmaxCrossEntropy(labels, l))) as tf.Scalar;
      }, true);
      losses.push((cost as tf.Scalar).dataSync()[0]);
      cost?.dispose();
      tensorCounts.push(tf.memory().numTensors);
    }
    console.log(`fused two-view ResNet18, 64×64, batch ${batch}: losses ${losses.map((l) => l.toFixed(3)).join(' → ')}, tensors ${tensorCounts.join(', ')}`);
    expect(losses.every(Number.isFinite)).toBe(true);
    expect(losses[losses.length - 1]).toBeLessThan(losses[0]);
    // The optimizer creates no state for plain SGD; after the first step nothing may accumulate.
    expect(new Set(tensorCounts.slice(1)).size).toBe(1);
    inputs.forEach((t) => t.dispose());
    labels.dispose();
    optimizer.dispose();
    model.dispose();
  });
});

describe('resnet18SE', () => {
  it('is a ResNet18 with SE blocks after layer2/3/4, every layer under m0_', () => {
    const model = resnet18SE({ numClasses: 10, imageSize: 32 });
    expect(model.inputNames).toEqual(['x_m0']);
    expect(model.outputs).toHaveLength(1);
    const withWeights = model.layers.filter((l) => l.weights.length > 0).map((l) => l.name);
    expect(withWeights.every((n) => n.startsWith('m0_'))).toBe(true);
    expect(withWeights.filter((n) => n.includes('_se_'))).toEqual(['m0_se_layer2', 'm0_se_layer3', 'm0_se_layer4']);
    const plain = resnet18({ numClasses: 10, imageSize: 32 });
    // SE: Dense(C → h) + Dense(h → C) with h = int(2·C/4).
    const se = [128, 256, 512].reduce((sum, c) => {
      const h = Math.floor((2 * c) / 4);
      return sum + c * h + h + h * c + c;
    }, 0);
    expect(countParams(model)).toBe(countParams(plain) + se);
    const shape = tf.tidy(() => (model.predict(tf.ones([1, 32, 32, 3])) as tf.Tensor).shape);
    expect(shape).toEqual([1, 10]);
    plain.dispose();
    model.dispose();
  });
});
