import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { initBackend } from '@mm/backend';
import { beforeAll, describe, expect, it } from 'vitest';
import { BalancedTrainer } from '../balanced-trainer.js';
import { IncompatibleModelError } from '../errors.js';
import { disposeBatch, tinyBatch, tinyLateModel, tinyMmtmModel } from '../testing/fixtures.js';
import { checkMethodContract } from '../testing/method-contract.js';
import { OgmGe } from './ogm-ge.js';

const softmaxTrue = (logits: number[], label: number) => {
  const max = Math.max(...logits);
  const e = logits.map((v) => Math.exp(v - max));
  return e[label] / e.reduce((a, b) => a + b, 0);
};

describe('OGM-GE (Peng et al. 2022)', () => {
  beforeAll(async () => {
    await initBackend({ backend: 'wasm', log: false });
  });

  it('scales each encoder gradient by k_m = 1 − tanh(α·ρ_m) for ρ_m > 1 (hand computation, no noise)', () => {
    const model = tinyLateModel(5);
    const lr = 0.1;
    const alpha = 0.7;
    const trainer = new BalancedTrainer({ model, optimizer: tf.train.sgd(lr), balancer: new OgmGe({ alpha, noise: false }) });
    const b = tinyBatch(2);
    const labels = Array.from(b.labels.dataSync());
    // By hand: features, the head's slices, scores, ratio, k.
    const featureModel = tfl.model({ inputs: model.inputs, outputs: [model.getLayer('enc0_pool').output as tfl.SymbolicTensor, model.getLayer('enc1_pool').output as tfl.SymbolicTensor] });
    const [h0, h1] = (featureModel.predict(b.inputs) as tf.Tensor[]).map((t) => t.arraySync() as number[][]);
    const [kernel, bias] = model.getLayer('classifier').getWeights().map((t) => t.arraySync()) as [number[][], number[]];
    const slice = (h: number[][], offset: number) => h.map((row) => bias.map((bc, c) => row.reduce((s, v, j) => s + v * kernel[offset + j][c], 0) + bc / 2));
    const s = [slice(h0, 0), slice(h1, 4)].map((z) => z.reduce((sum, logits, i) => sum + softmaxTrue(logits, labels[i]), 0));
    const ratios = [s[0] / s[1], s[1] / s[0]];
    const k = ratios.map((r) => (r > 1 ? 1 - Math.tanh(alpha * r) : 1));
    // Plain gradients of CE(prediction) at the current weights.
    const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
    const { grads } = tf.variableGrads(() => tf.losses.softmaxCrossEntropy(tf.oneHot(b.labels as tf.Tensor1D, 3), model.apply(b.inputs) as tf.Tensor) as tf.Scalar, vars);
    const expected = new Map(vars.map((v) => {
      const m = v.name.startsWith('enc0_') ? 0 : v.name.startsWith('enc1_') ? 1 : -1;
      const scale = m < 0 ? 1 : k[m];
      return [v.name, Array.from(tf.tidy(() => tf.sub(v, tf.mul(grads[v.name], lr * scale))).dataSync())];
    }));
    const r = trainer.step(b);
    expect(r.metrics.k0).toBeCloseTo(k[0], 5);
    expect(r.metrics.k1).toBeCloseTo(k[1], 5);
    expect(r.metrics.ratio).toBeCloseTo(ratios[0], 5);
    expect(Math.min(k[0], k[1])).toBeLessThan(1); // one modality was slowed
    for (const v of vars) Array.from(v.dataSync()).forEach((x, i) => expect(x).toBeCloseTo(expected.get(v.name)![i], 5));
    tf.dispose(Object.values(grads));
    disposeBatch(b);
        trainer.dispose();
    model.dispose();
  });

  it("follows the paper's k just above ρ = 1 (the pre-May-2022 reference gave ≈ 1 there)", () => {
    const k = OgmGe.coefficients(tf.tensor1d([1.01, 1]), 0.5);
    const [k0, k1] = Array.from(k.dataSync());
    expect(k0).toBeCloseTo(1 - Math.tanh(0.5 * 1.01), 6); // 0.534, not 1 − tanh(0.5·0.01) = 0.995
    expect(k1).toBe(1);
    k.dispose();
  });

  it("adds noise with the standard deviation of the unscaled gradient (an early reference took the scaled one's)", () => {
    // A dense encoder large enough to estimate a standard deviation: 40·50 weights per modality.
    const inputs = [tfl.input({ shape: [40] }), tfl.input({ shape: [40] })];
    const features = inputs.map((x, k) => tfl.layers.dense({ name: `enc${k}`, units: 50, activation: 'tanh', kernelInitializer: tfl.initializers.glorotUniform({ seed: k + 1 }) }).apply(x) as tfl.SymbolicTensor);
    const merged = tfl.layers.concatenate().apply(features) as tfl.SymbolicTensor;
    const model = tfl.model({ inputs, outputs: tfl.layers.dense({ units: 3, kernelInitializer: tfl.initializers.glorotUniform({ seed: 9 }) }).apply(merged) as tfl.SymbolicTensor });
    const lr = 1;
    // α = 50: the leading modality's k = 1 − tanh(50·ρ) ≈ 0, so its update is the noise alone.
    const trainer = new BalancedTrainer({ model, optimizer: tf.train.sgd(lr), balancer: new OgmGe({ alpha: 50, seed: 4 }) });
    const labels = tf.tensor1d([0, 1, 2, 0, 1, 2, 0, 1], 'int32');
    const x0 = tf.tidy(() => tf.mul(tf.oneHot(labels, 40), 3)); // modality 0 shows the label clearly
    const x1 = tf.randomNormal([8, 40], 0, 1, 'float32', 5);
    const kernel = (k: number) => model.getLayer(`enc${k}`).trainableWeights[0].read() as tf.Variable;
    const { grads } = tf.variableGrads(() => tf.losses.softmaxCrossEntropy(tf.oneHot(labels, 3), model.apply([x0, x1]) as tf.Tensor) as tf.Scalar, [kernel(0), kernel(1)]);
    const std = (t: tf.Tensor) => tf.tidy(() => Math.sqrt(tf.moments(t).variance.dataSync()[0]));
    const before = [tf.clone(kernel(0)), tf.clone(kernel(1))];
    const r = trainer.step({ inputs: [x0, x1], labels });
    const leader = r.metrics.ratio! > 1 ? 0 : 1;
    expect(Math.min(r.metrics.k0, r.metrics.k1)).toBeLessThan(1e-6);
    const update = tf.div(tf.sub(before[leader], kernel(leader)), lr);
    const ratio = std(update) / std(grads[kernel(leader).name]);
    expect(ratio).toBeGreaterThan(0.9);
    expect(ratio).toBeLessThan(1.1);
    tf.dispose([...before, update, ...Object.values(grads), x0, x1, labels]);
    trainer.dispose();
    model.dispose();
  });

  it('keeps numTensors constant and continues identically from a checkpoint (late fusion, noise on)', async () => {
    await checkMethodContract({ model: () => tinyLateModel(6), balancer: () => new OgmGe({ alpha: 0.5, seed: 2 }) });
  });

  it('uses the heads of an MMTM model as per-modality logits', async () => {
    await checkMethodContract({ model: () => tinyMmtmModel(6), balancer: () => new OgmGe({ alpha: 0.5 }) });
  });

  it('refuses three modalities, naming the methods that can train the model', () => {
    const model = tinyLateModel(1, 3);
    let error: unknown;
    try {
      new BalancedTrainer({ model, optimizer: tf.train.sgd(0.1), balancer: new OgmGe() });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(IncompatibleModelError);
    expect((error as Error).message).toMatch(/defined for 2 modalities, the model has 3.*Methods that can train it: vanilla/);
    model.dispose();
  });
});
