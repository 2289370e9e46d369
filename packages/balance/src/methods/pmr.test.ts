import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { initBackend } from '@mm/backend';
import type { LabeledBatch } from '@mm/metrics';
import { beforeAll, describe, expect, it } from 'vitest';
import { BalancedTrainer } from '../balanced-trainer.js';
import { IncompatibleModelError } from '../errors.js';
import { disposeBatch, tinyBatch, tinyLateModel, tinyMmtmModel } from '../testing/fixtures.js';
import { checkMethodContract } from '../testing/method-contract.js';
import { Pmr } from './pmr.js';

type Matrix = number[][];

/** Features h_0, h_1 and the logits of the tiny late model, by its own layers, in inference mode. */
function lateOutputs(model: tfl.LayersModel, inputs: tf.Tensor[]): [Matrix, Matrix, Matrix] {
  const probe = tfl.model({ inputs: model.inputs, outputs: ['enc0_pool', 'enc1_pool', 'classifier'].map((n) => model.getLayer(n).output as tfl.SymbolicTensor) });
  const out = probe.predict(inputs) as tf.Tensor[];
  const values = out.map((t) => t.arraySync() as Matrix) as [Matrix, Matrix, Matrix];
  tf.dispose(out);
  return values;
}

function classMeans(features: Matrix, labels: number[], classes: number): { means: Matrix; counts: number[] } {
  const d = features[0].length;
  const sums = Array.from({ length: classes }, () => new Array(d).fill(0));
  const counts = new Array(classes).fill(0);
  features.forEach((row, i) => {
    counts[labels[i]]++;
    row.forEach((v, j) => (sums[labels[i]][j] += v));
  });
  return { means: sums.map((s, k) => s.map((v) => (counts[k] ? v / counts[k] : 0))), counts };
}

const softmax = (logits: number[]) => {
  const max = Math.max(...logits);
  const e = logits.map((v) => Math.exp(v - max));
  const total = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / total);
};
const meanCrossEntropy = (logits: Matrix, labels: number[]) => logits.reduce((s, z, i) => s - Math.log(softmax(z)[labels[i]]), 0) / logits.length;
const negativeDistances = (features: Matrix, prototypes: Matrix) => features.map((h) => prototypes.map((c) => -Math.sqrt(c.reduce((s, v, j) => s + (h[j] - v) ** 2, 0))));

function savedPrototypes(pmr: Pmr): [Matrix, Matrix] {
  const copies = pmr.currentPrototypes()!;
  const values = copies.map((c) => c.arraySync() as Matrix) as [Matrix, Matrix];
  tf.dispose(copies);
  return values;
}

function expectMatrixClose(actual: Matrix, expected: Matrix, digits = 5): void {
  expect(actual.length).toBe(expected.length);
  actual.forEach((row, i) => row.forEach((v, j) => expect(v).toBeCloseTo(expected[i][j], digits)));
}

const labelsOf = (b: LabeledBatch) => Array.from(b.labels.dataSync());

describe('PMR (Fan et al. 2023)', () => {
  beforeAll(async () => {
    await initBackend({ backend: 'wasm', log: false });
  });

  it('computes prototypes as the class means over the first 10% of the training batches, then as an EMA', async () => {
    const model = tinyLateModel(5);
    const momentum = 0.3;
    const pmr = new Pmr({ momentum });
    const trainer = new BalancedTrainer({ model, optimizer: tf.train.sgd(0.2), balancer: pmr });
    // 20 batches: the first two make the prototypes; the trainer must dispose all 20.
    const trainBatches = (first: number) => () => Array.from({ length: 20 }, (_, i) => tinyBatch(first + i));
    const handMeans = (first: number) => {
      const used = [tinyBatch(first), tinyBatch(first + 1)];
      const [h0, h1] = used.map((b) => lateOutputs(model, b.inputs));
      const labels = used.flatMap(labelsOf);
      used.forEach(disposeBatch);
      return [classMeans([...h0[0], ...h1[0]], labels, 3), classMeans([...h0[1], ...h1[1]], labels, 3)];
    };

    const first = handMeans(100);
    expect(first[0].counts).toEqual([5, 5, 6]);
    const before = tf.memory().numTensors;
    await trainer.startEpoch({ train: trainBatches(100) });
    expect(tf.memory().numTensors).toBe(before + 2); // the two prototype tensors, nothing else
    const [c0, c1] = savedPrototypes(pmr);
    expectMatrixClose(c0, first[0].means);
    expectMatrixClose(c1, first[1].means);

    for (let s = 0; s < 3; s++) {
      const b = tinyBatch(s);
      trainer.step(b);
      disposeBatch(b);
    }
    // The weights moved: the second epoch's means differ, and the prototypes blend them with the old ones.
    const second = handMeans(300);
    const held = tf.memory().numTensors;
    await trainer.startEpoch({ train: trainBatches(300) });
    expect(tf.memory().numTensors).toBe(held);
    const [e0, e1] = savedPrototypes(pmr);
    const ema = (fresh: Matrix, old: Matrix) => fresh.map((row, k) => row.map((v, j) => (1 - momentum) * v + momentum * old[k][j]));
    expectMatrixClose(e0, ema(second[0].means, c0));
    expectMatrixClose(e1, ema(second[1].means, c1));
    expect(Math.abs(second[0].means[0][0] - c0[0][0])).toBeGreaterThan(1e-4);
    trainer.dispose();
    model.dispose();
  });

  it('keeps the prototype of a class absent from the prototype batches (zeros before it is first seen), and the loss stays finite', async () => {
    const model = tinyLateModel(6);
    const momentum = 0.2;
    const pmr = new Pmr({ momentum });
    const trainer = new BalancedTrainer({ model, optimizer: tf.train.sgd(0.1), balancer: pmr });
    // Batches of two samples: labels [0, 1], then [2, 0].
    const onlyFirstTwo = tinyBatch(0, 2);
    const [g0] = lateOutputs(model, onlyFirstTwo.inputs);
    await trainer.startEpoch({ train: () => [tinyBatch(0, 2)] });
    const [c0] = savedPrototypes(pmr);
    expectMatrixClose(c0, [g0[0], g0[1], [0, 0, 0, 0]]);
    const b = tinyBatch(0);
    const r = trainer.step(b);
    disposeBatch(b);
    expect(Number.isFinite(r.loss)).toBe(true);

    const later = tinyBatch(2, 2);
    const [f0] = lateOutputs(model, later.inputs);
    await trainer.startEpoch({ train: () => [tinyBatch(2, 2)] });
    const [n0] = savedPrototypes(pmr);
    // Class 2 seen for the first time: its mean as is. Class 0: EMA. Class 1: absent, kept.
    expectMatrixClose(n0, [f0[1].map((v, j) => (1 - momentum) * v + momentum * c0[0][j]), c0[1], f0[0]]);
    [onlyFirstTwo, later].forEach(disposeBatch);
    trainer.dispose();
    model.dispose();
  });

  it('takes 10% of a generator source by stepsPerEpoch, or by counting its batches, and closes it after the batches used', async () => {
    const model = tinyLateModel(4);
    const pmr = new Pmr({ momentum: 0 });
    const trainer = new BalancedTrainer({ model, optimizer: tf.train.sgd(0.1), balancer: pmr });
    let made = 0;
    const generator = () =>
      (function* () {
        for (let i = 0; i < 10; i++) {
          made++;
          yield tinyBatch(700 + i);
        }
      })();
    const expectedFrom = (count: number) => {
      const used = Array.from({ length: count }, (_, i) => tinyBatch(700 + i));
      const features = used.map((b) => lateOutputs(model, b.inputs)[0]);
      const means = classMeans(features.flat(), used.flatMap(labelsOf), 3).means;
      used.forEach(disposeBatch);
      return means;
    };
    const before = tf.memory().numTensors;
    // Ten batches, length unknown: one counting pass, then the first one.
    await trainer.startEpoch({ train: generator });
    expect(made).toBe(10 + 1);
    expectMatrixClose(savedPrototypes(pmr)[0], expectedFrom(1));
    // stepsPerEpoch 20 says two batches; no counting pass.
    made = 0;
    await trainer.startEpoch({ train: generator, stepsPerEpoch: 20 });
    expect(made).toBe(2);
    expectMatrixClose(savedPrototypes(pmr)[0], expectedFrom(2));
    expect(tf.memory().numTensors).toBe(before + 2);
    trainer.dispose();
    model.dispose();
  });

  it('adds α·CE(y, −‖h_m − c_m‖) for the modality behind (hand computation of one step: loss, ρ, β, λ and the update)', async () => {
    const model = tinyLateModel(7);
    const lr = 0.1;
    const alpha = 0.8;
    const pmr = new Pmr({ alpha });
    const trainer = new BalancedTrainer({ model, optimizer: tf.train.sgd(lr), balancer: pmr });
    await trainer.startEpoch({ train: () => [tinyBatch(50), tinyBatch(51)] });
    const [c0, c1] = savedPrototypes(pmr);
    const b = tinyBatch(3);
    const labels = labelsOf(b);
    const [h0, h1, logits] = lateOutputs(model, b.inputs);
    const z0 = negativeDistances(h0, c0);
    const z1 = negativeDistances(h1, c1);
    const score = (z: Matrix) => z.reduce((s, row, i) => s + softmax(row)[labels[i]], 0);
    const rho = score(z0) / score(z1);
    const beta = rho < 1 ? alpha : 0;
    const lambda = rho > 1 ? alpha : 0;
    const loss = meanCrossEntropy(logits, labels) + beta * meanCrossEntropy(z0, labels) + lambda * meanCrossEntropy(z1, labels);

    // The update: SGD on the gradient of that loss, the prototypes held constant.
    const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
    const probe = tfl.model({ inputs: model.inputs, outputs: ['enc0_pool', 'enc1_pool', 'classifier'].map((n) => model.getLayer(n).output as tfl.SymbolicTensor) });
    const { grads } = tf.variableGrads(() => {
      const [f0, f1, out] = probe.apply(b.inputs) as tf.Tensor2D[];
      const y = tf.oneHot(b.labels as tf.Tensor1D, 3);
      const distances = (h: tf.Tensor2D, c: Matrix) => tf.neg(tf.sqrt(tf.sum(tf.square(tf.sub(tf.expandDims(h, 1), tf.expandDims(tf.tensor2d(c), 0))), -1)));
      return tf.addN([
        tf.losses.softmaxCrossEntropy(y, out),
        tf.mul(beta, tf.losses.softmaxCrossEntropy(y, distances(f0, c0))),
        tf.mul(lambda, tf.losses.softmaxCrossEntropy(y, distances(f1, c1))),
      ]) as tf.Scalar;
    }, vars);
    const expected = vars.map((v) => Array.from(tf.tidy(() => tf.sub(v, tf.mul(grads[v.name], lr))).dataSync()));
    tf.dispose(Object.values(grads));

    const r = trainer.step(b);
    expect(r.loss).toBeCloseTo(loss, 5);
    expect(r.metrics.rho).toBeCloseTo(rho, 5);
    expect(r.metrics.beta).toBeCloseTo(beta, 6);
    expect(r.metrics.lambda).toBeCloseTo(lambda, 6);
    expect(beta + lambda).toBe(alpha); // one modality is pulled
    vars.forEach((v, i) => Array.from(v.dataSync()).forEach((x, j) => expect(x).toBeCloseTo(expected[i][j], 5)));
    disposeBatch(b);
    trainer.dispose();
    model.dispose();
  });

  it('keeps numTensors constant and continues identically from a checkpoint (late fusion)', async () => {
    await checkMethodContract({ model: () => tinyLateModel(8), balancer: () => new Pmr({ alpha: 1.5 }) });
  });

  it('keeps numTensors constant and continues identically from a checkpoint (MMTM)', async () => {
    await checkMethodContract({ model: () => tinyMmtmModel(8), balancer: () => new Pmr() });
  });

  it('says that it needs trainer.startEpoch({ train }) when a step comes first, or when no training batches are given', async () => {
    const model = tinyLateModel(2);
    const trainer = new BalancedTrainer({ model, optimizer: tf.train.sgd(0.1), balancer: new Pmr() });
    const b = tinyBatch(0);
    const before = tf.memory().numTensors;
    expect(() => trainer.step(b)).toThrow(/PMR needs trainer\.startEpoch\(\{ train \}\) before each epoch/);
    expect(tf.memory().numTensors).toBe(before);
    await expect(trainer.startEpoch({ stepsPerEpoch: 10 })).rejects.toThrow(/PMR needs trainer\.startEpoch\(\{ train \}\) before each epoch/);
    await trainer.startEpoch({ train: () => [tinyBatch(1)] });
    expect(Number.isFinite(trainer.step(b).loss)).toBe(true);
    disposeBatch(b);
    trainer.dispose();
    model.dispose();
  });

  it('refuses three modalities, naming the methods that can train the model', () => {
    const model = tinyLateModel(1, 3);
    let error: unknown;
    try {
      new BalancedTrainer({ model, optimizer: tf.train.sgd(0.1), balancer: new Pmr() });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(IncompatibleModelError);
    expect((error as Error).message).toMatch(/pmr cannot train this model: it is defined for 2 modalities, the model has 3.*Methods that can train it: vanilla/);
    model.dispose();
  });
});
