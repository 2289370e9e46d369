import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { initBackend } from '@mm/backend';
import type { LabeledBatch } from '@mm/metrics';
import { beforeAll, describe, expect, it } from 'vitest';
import { BalancedTrainer } from '../balanced-trainer.js';
import { disposeBatch, tinyBatch, tinyLateModel, tinyMmtmModel, weightValues } from '../testing/fixtures.js';
import { checkMethodContract } from '../testing/method-contract.js';
import { minNormWeight, MmPareto } from './mm-pareto.js';

const dot = (a: number[], b: number[]) => a.reduce((s, v, i) => s + v * b[i], 0);
const norm = (a: number[]) => Math.sqrt(dot(a, a));

/** The auxiliary head the most recent trainer added for modality m (kernel, bias), found by its name. */
function auxHead(m: number): [tf.Variable, tf.Variable] {
  const registered = Object.values(tf.engine().registeredVariables);
  const newest = (prefix: string) => registered.filter((v) => v.name.startsWith(prefix)).at(-1)!;
  return [newest(`aux_head_m${m}/kernel_`), newest(`aux_head_m${m}/bias_`)];
}

interface Expected {
  weights: Map<string, number[]>;
  cos: number[];
  mmWeight: number[];
}

/**
 * One MMPareto step on a late model with auxiliary heads, by hand: the gradients of L_mm and of
 * each L_m from tf, their combination from the formula in plain numbers, then SGD.
 */
function handStep(model: tfl.LayersModel, batch: LabeledBatch, lr: number, scale = 1.5): Expected {
  const modalities = batch.inputs.length;
  const heads = Array.from({ length: modalities }, (_, m) => auxHead(m));
  const modelVars = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const all = [...modelVars, ...heads.flat()];
  const probe = tfl.model({ inputs: model.inputs, outputs: [...Array.from({ length: modalities }, (_, m) => model.getLayer(`enc${m}_pool`).output as tfl.SymbolicTensor), model.outputs[0]] });
  const y = tf.oneHot(batch.labels as tf.Tensor1D, 3);
  const gradientsOf = (loss: (outs: tf.Tensor2D[]) => tf.Tensor) => {
    const { grads } = tf.variableGrads(() => loss(probe.apply(batch.inputs) as tf.Tensor2D[]) as tf.Scalar, all);
    const values = new Map(all.map((v) => [v.name, grads[v.name] ? Array.from(grads[v.name].dataSync()) : new Array(v.size).fill(0)]));
    tf.dispose(Object.values(grads));
    return values;
  };
  const multimodal = gradientsOf((outs) => tf.losses.softmaxCrossEntropy(y, outs[modalities]));
  const unimodal = heads.map(([kernel, bias], m) => gradientsOf((outs) => tf.losses.softmaxCrossEntropy(y, tf.add(tf.matMul(outs[m], kernel), bias))));
  const encoderOf = (name: string) => Array.from({ length: modalities }, (_, m) => m).find((m) => name.startsWith(`enc${m}_`));
  const update = new Map<string, number[]>();
  const cos: number[] = [];
  const mmWeight: number[] = [];
  for (let m = 0; m < modalities; m++) {
    const names = modelVars.filter((v) => encoderOf(v.name) === m).map((v) => v.name);
    const gMm = names.flatMap((n) => multimodal.get(n)!);
    const gUni = names.flatMap((n) => unimodal[m].get(n)!);
    const c = dot(gMm, gUni) / Math.max(norm(gMm) * norm(gUni), 1e-8);
    const diff = gMm.map((v, i) => v - gUni[i]);
    const k = c > 0 ? 0.5 : Math.min(0.999, Math.max(0.001, (dot(gUni, gUni) - dot(gMm, gUni)) / dot(diff, diff)));
    cos.push(c);
    mmWeight.push(k);
    for (const n of names) {
      const a = multimodal.get(n)!;
      const b = unimodal[m].get(n)!;
      const combined = a.map((v, i) => 2 * k * v + 2 * (1 - k) * b[i]);
      const ratio = norm(a.map((v, i) => v + b[i])) / norm(combined);
      update.set(n, combined.map((v) => scale * Math.max(1, ratio) * v));
    }
  }
  for (const v of all) if (!update.has(v.name)) update.set(v.name, [multimodal, ...unimodal].map((g) => g.get(v.name)!).reduce((s, g) => s.map((x, i) => x + g[i])));
  const weights = new Map(all.map((v) => [v.name, Array.from(v.dataSync(), (x, i) => x - lr * update.get(v.name)![i])]));
  y.dispose();
  return { weights, cos, mmWeight };
}

function expectStepMatches(expected: Expected, metrics: Record<string, number | null>, model: tfl.LayersModel): void {
  expected.cos.forEach((c, m) => {
    expect(metrics[`cos${m}`]).toBeCloseTo(c, 4);
    expect(metrics[`mmWeight${m}`]).toBeCloseTo(expected.mmWeight[m], 4);
  });
  const variables = [...model.trainableWeights.map((w) => w.read() as tf.Variable), ...expected.cos.flatMap((_, m) => auxHead(m))];
  for (const v of variables) {
    const actual = Array.from(v.dataSync());
    expect(actual.every(Number.isFinite)).toBe(true);
    actual.forEach((x, i) => expect(x).toBeCloseTo(expected.weights.get(v.name)![i], 5));
  }
}

describe('MMPareto (Wei & Hu 2024)', () => {
  beforeAll(async () => {
    await initBackend({ backend: 'wasm', log: false });
  });

  it('gives the first vector γ = argmin ‖γ·v1 + (1 − γ)·v2‖ (checked against a search over γ)', () => {
    const cases: [number[], number[]][] = [
      [[1, 0], [-3, 0]], // the short vector gets the large weight: γ = 0.75, not 0.25
      [[0.3, -1.2, 0.5], [-0.8, 0.4, 0.1]],
      [[2, 1, -1, 0.5], [-0.1, -0.3, 0.2, -0.4]],
      [[1, 1], [2, 2.5]], // v1 is the min-norm point of the segment: γ clipped to 0.999
    ];
    for (const [a, b] of cases) {
      const gamma = tf.tidy(() => minNormWeight(tf.tensor1d(a), tf.tensor1d(b)).dataSync()[0]);
      const normAt = (g: number) => norm(a.map((v, i) => g * v + (1 - g) * b[i]));
      let best = 0;
      for (let g = 0; g <= 1; g += 1e-4) if (normAt(g) < normAt(best)) best = g;
      expect(gamma).toBeCloseTo(Math.min(0.999, Math.max(0.001, best)), 3);
    }
    expect(tf.tidy(() => minNormWeight(tf.tensor1d([1, 0]), tf.tensor1d([-3, 0])).dataSync()[0])).toBeCloseTo(0.75, 6);
  });

  it('combines each encoder gradient as the formula on a late model with auxiliary heads (hand computation, SGD)', () => {
    const model = tinyLateModel(5);
    const lr = 0.5;
    const trainer = new BalancedTrainer({ model, optimizer: tf.train.sgd(lr), balancer: new MmPareto() });
    expect(trainer.logitSource).toBe('aux');
    for (let s = 0; s < 2; s++) {
      const b = tinyBatch(s);
      const expected = handStep(model, b, lr);
      const r = trainer.step(b);
      expectStepMatches(expected, r.metrics, model);
      disposeBatch(b);
    }
    trainer.dispose();
    model.dispose();
  });

  it('gives finite gradients equal to the min-norm combination when the objectives conflict (the BalanceBenchmark port gets 0/0 = NaN)', () => {
    const model = tinyLateModel(3);
    const lr = 0.5;
    const trainer = new BalancedTrainer({ model, optimizer: tf.train.sgd(lr), balancer: new MmPareto() });
    // Each auxiliary head the negative of its slice of the fused head: L_m pulls h_m against L_mm.
    const [kernel, bias] = model.getLayer('classifier').getWeights();
    tf.tidy(() => {
      [0, 1].forEach((m) => {
        const [k, b] = auxHead(m);
        k.assign(tf.neg(tf.slice(kernel, [4 * m, 0], [4, -1])));
        b.assign(tf.div(tf.neg(bias), 2));
      });
    });
    const batch = tinyBatch(4);
    const expected = handStep(model, batch, lr);
    expect(Math.max(...expected.cos)).toBeLessThan(0);
    expected.mmWeight.forEach((k) => expect(k).not.toBe(0.5));
    const r = trainer.step(batch);
    expect(r.applied).toBe(true);
    expect(Number.isFinite(r.loss)).toBe(true);
    expectStepMatches(expected, r.metrics, model);
    disposeBatch(batch);
    trainer.dispose();
    model.dispose();
  });

  it('takes every unimodal encoder gradient from one backward of Σ_m L_m when branches are separable, as one backward per L_m does', () => {
    const run = (combine: boolean) => {
      const model = tinyLateModel(7);
      const balancer = new MmPareto({ combineUnimodalBackward: combine });
      const trainer = new BalancedTrainer({ model, optimizer: tf.train.momentum(0.1, 0.9), balancer });
      const metrics: Record<string, number | null>[] = [];
      for (let s = 0; s < 3; s++) {
        const b = tinyBatch(s);
        metrics.push(trainer.step(b).metrics);
        disposeBatch(b);
      }
      const result = { backwards: balancer.unimodalBackwards, metrics, weights: weightValues(model), aux: [0, 1].flatMap((m) => auxHead(m).map((v) => Array.from(v.dataSync()))) };
      // Disposed before the other run: two trainers with auxiliary heads cannot be alive at once.
      trainer.dispose();
      model.dispose();
      return result;
    };
    const one = run(true);
    const each = run(false);
    expect(one.backwards).toBe(1);
    expect(each.backwards).toBe(2);
    one.metrics.forEach((m, s) => Object.entries(m).forEach(([k, v]) => expect(v).toBeCloseTo(each.metrics[s][k]!, 5)));
    [...one.weights, ...one.aux].forEach((w, i) => w.forEach((v, j) => expect(v).toBeCloseTo([...each.weights, ...each.aux][i][j], 5)));
  });

  it('updates batch-norm statistics once per step, not once per backward pass', () => {
    const inputs = [tfl.input({ shape: [5] }), tfl.input({ shape: [5] })];
    const features = inputs.map((x, k) => {
      const dense = tfl.layers.dense({ name: `enc${k}_dense`, units: 4, kernelInitializer: tfl.initializers.glorotUniform({ seed: k + 1 }) }).apply(x) as tfl.SymbolicTensor;
      return tfl.layers.batchNormalization({ name: `enc${k}_bn`, momentum: 0.9 }).apply(dense) as tfl.SymbolicTensor;
    });
    const model = tfl.model({ inputs, outputs: tfl.layers.dense({ units: 3, kernelInitializer: tfl.initializers.glorotUniform({ seed: 9 }) }).apply(tfl.layers.concatenate().apply(features) as tfl.SymbolicTensor) as tfl.SymbolicTensor });
    const trainer = new BalancedTrainer({ model, optimizer: tf.train.sgd(0.1), balancer: new MmPareto({ combineUnimodalBackward: false }) });
    const x = [tf.randomNormal([8, 5], 1, 1, 'float32', 3), tf.randomNormal([8, 5], -1, 1, 'float32', 4)];
    const labels = tf.tensor1d([0, 1, 2, 0, 1, 2, 0, 1], 'int32');
    // moving mean ← 0.9·0 + 0.1·(batch mean of the dense output before the step's update).
    const expected = [0, 1].map((k) => {
      const dense = tfl.model({ inputs: inputs[k], outputs: model.getLayer(`enc${k}_dense`).output as tfl.SymbolicTensor });
      return tf.tidy(() => Array.from(tf.mul(tf.mean(dense.predict(x[k]) as tf.Tensor, 0), 0.1).dataSync()));
    });
    trainer.step({ inputs: x, labels });
    [0, 1].forEach((k) => {
      const movingMean = model.getLayer(`enc${k}_bn`).weights.find((w) => w.name.includes('moving_mean'))!.read();
      Array.from(movingMean.dataSync()).forEach((v, i) => expect(v).toBeCloseTo(expected[k][i], 5));
    });
    tf.dispose([...x, labels]);
    trainer.dispose();
    model.dispose();
  });

  it('keeps numTensors constant and continues identically from a checkpoint (MMTM, its own heads, one backward per loss)', async () => {
    let balancer: MmPareto | undefined;
    await checkMethodContract({ model: () => tinyMmtmModel(6), balancer: () => (balancer = new MmPareto()) });
    expect(balancer!.unimodalBackwards).toBe(2);
  });

  it('keeps numTensors constant and continues identically from a checkpoint (late fusion, auxiliary heads)', async () => {
    await checkMethodContract({ model: () => tinyLateModel(6), balancer: () => new MmPareto() });
  });

  it('trains three modalities: the contract on an MMTM model, and the hand computation on a late one', async () => {
    await checkMethodContract({ model: () => tinyMmtmModel(2, 3), balancer: () => new MmPareto(), modalities: 3 });
    const model = tinyLateModel(8, 3);
    const lr = 0.5;
    const trainer = new BalancedTrainer({ model, optimizer: tf.train.sgd(lr), balancer: new MmPareto() });
    const b = tinyBatch(1, 8, 3);
    const expected = handStep(model, b, lr);
    const r = trainer.step(b);
    expect(Object.keys(r.metrics).sort()).toEqual(['cos0', 'cos1', 'cos2', 'mmWeight0', 'mmWeight1', 'mmWeight2']);
    expectStepMatches(expected, r.metrics, model);
    disposeBatch(b);
    trainer.dispose();
    model.dispose();
  });
});
