import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { initBackend } from '@mm/backend';
import type { LabeledBatch } from '@mm/metrics';
import { beforeAll, describe, expect, it } from 'vitest';
import { BalancedTrainer } from '../balanced-trainer.js';
import { disposeBatch, tinyBatch, tinyLateModel, tinyMmtmModel } from '../testing/fixtures.js';
import { checkMethodContract } from '../testing/method-contract.js';
import { ModalityDropout } from './modality-dropout.js';

/** Sample i's input of modality m, zeroed where it was dropped (built sample by sample, not as the method does). */
function masked(batch: LabeledBatch, kept: boolean[][], scale = 1): tf.Tensor[] {
  return batch.inputs.map((x, m) => tf.stack(tf.unstack(x).map((xi, i) => (kept[i][m] ? tf.mul(xi, scale) : tf.zerosLike(xi)))));
}

/** The model's own loss (CE of the output, or Σ_k CE over its heads) and every weight after one SGD step on it. */
function expectedStep(model: tfl.LayersModel, batch: LabeledBatch, inputs: tf.Tensor[], lr: number) {
  const variables = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const labels = tf.oneHot(batch.labels as tf.Tensor1D, 3);
  const { value, grads } = tf.variableGrads(() => {
    const out = model.apply(inputs) as tf.Tensor | tf.Tensor[];
    const heads = Array.isArray(out) ? out : [out];
    return tf.addN(heads.map((h) => tf.losses.softmaxCrossEntropy(labels, h))) as tf.Scalar;
  }, variables);
  const expected = new Map(variables.map((v) => [v.name, Array.from(tf.tidy(() => tf.sub(v, tf.mul(grads[v.name], lr))).dataSync())]));
  const loss = value.dataSync()[0];
  tf.dispose([value, labels, ...Object.values(grads)]);
  return { loss, expected, variables };
}

function unmaskedLoss(model: tfl.LayersModel, batch: LabeledBatch): number {
  return tf.tidy(() => {
    const out = model.apply(batch.inputs) as tf.Tensor | tf.Tensor[];
    const labels = tf.oneHot(batch.labels as tf.Tensor1D, 3);
    return tf.addN((Array.isArray(out) ? out : [out]).map((h) => tf.losses.softmaxCrossEntropy(labels, h))).dataSync()[0];
  });
}

describe('modality dropout', () => {
  beforeAll(async () => {
    await initBackend({ backend: 'wasm', log: false });
  });

  it('drops each modality at p − p^M/M and never a whole sample: joint frequencies over many steps (two modalities)', () => {
    const p = 0.4;
    const dropout = new ModalityDropout({ p, seed: 5 });
    const counts = { none: 0, only0: 0, only1: 0, both: 0 };
    const steps = 400;
    const size = 32;
    for (let step = 0; step < steps; step++) {
      for (const [k0, k1] of dropout.masks(step, size, 2)) {
        if (k0 && k1) counts.none++;
        else if (!k0 && k1) counts.only0++;
        else if (k0 && !k1) counts.only1++;
        else counts.both++;
      }
    }
    const n = steps * size;
    expect(counts.both).toBe(0);
    // Both drawn (p²) is split evenly between keeping 0 and keeping 1.
    expect(Math.abs(counts.none / n - (1 - p) ** 2)).toBeLessThan(0.02);
    for (const only of [counts.only0, counts.only1]) expect(Math.abs(only / n - (p * (1 - p) + (p * p) / 2))).toBeLessThan(0.02);
    // With no sample losing both, modality m's drop rate is P(only m) = p − p²/2 = 0.32, measurably below p itself.
    for (const dropped of [counts.only0, counts.only1]) {
      expect(Math.abs(dropped / n - (p - (p * p) / 2))).toBeLessThan(0.02);
      expect(p - dropped / n).toBeGreaterThan(0.05);
    }
    expect(dropout.dropRates(2)).toEqual([p - (p * p) / 2, p - (p * p) / 2]);
  });

  it('three modalities with one probability each: drop rates p_m − Πp/3, no sample loses all three', () => {
    const p = [0.2, 0.5, 0.7];
    const dropout = new ModalityDropout({ p, seed: 9 });
    const dropped = [0, 0, 0];
    let samples = 0;
    for (let step = 0; step < 400; step++) {
      for (const kept of dropout.masks(step, 32, 3)) {
        expect(kept.some(Boolean)).toBe(true);
        kept.forEach((k, m) => (dropped[m] += k ? 0 : 1));
        samples++;
      }
    }
    const all = p[0] * p[1] * p[2];
    dropped.forEach((d, m) => expect(Math.abs(d / samples - (p[m] - all / 3))).toBeLessThan(0.02));
  });

  it('draws the same masks for the same (seed, step), other masks for another step or seed', () => {
    const a = new ModalityDropout({ p: 0.5, seed: 1 });
    const b = new ModalityDropout({ p: 0.5, seed: 1 });
    const c = new ModalityDropout({ p: 0.5, seed: 2 });
    expect(a.masks(7, 16, 2)).toEqual(b.masks(7, 16, 2));
    expect(a.masks(7, 16, 2)).not.toEqual(a.masks(8, 16, 2));
    expect(a.masks(7, 16, 2)).not.toEqual(c.masks(7, 16, 2));
  });

  for (const [kind, makeModel] of [
    ['late fusion', () => tinyLateModel(5)],
    ['MMTM (Σ_k CE over the heads)', () => tinyMmtmModel(5)],
  ] as const) {
    it(`trains on the model's own loss of the masked inputs (hand computation, ${kind})`, () => {
      const model = makeModel();
      const lr = 0.5;
      const dropout = new ModalityDropout({ p: 0.5, seed: 3 });
      const trainer = new BalancedTrainer({ model, optimizer: tf.train.sgd(lr), balancer: dropout });
      for (const step of [0, 1]) {
        const b = tinyBatch(step);
        const kept = dropout.masks(step, 8, 2);
        expect(kept.flat().some((k) => !k)).toBe(true); // something is dropped, so the masked loss differs from the plain one
        const inputs = masked(b, kept);
        const hand = expectedStep(model, b, inputs, lr);
        expect(Math.abs(hand.loss - unmaskedLoss(model, b))).toBeGreaterThan(1e-4);
        const r = trainer.step(b);
        expect(r.loss).toBeCloseTo(hand.loss, 5);
        for (const v of hand.variables) Array.from(v.dataSync()).forEach((x, i) => expect(x).toBeCloseTo(hand.expected.get(v.name)![i], 5));
        for (let m = 0; m < 2; m++) expect(r.metrics[`dropped${m}`]).toBe(kept.filter((row) => !row[m]).length / 8);
        tf.dispose(inputs);
        disposeBatch(b);
      }
      trainer.dispose();
      model.dispose();
    });
  }

  it('with rescale, multiplies kept inputs by 1/P(kept) = 1/(1 − p + p^M/M)', () => {
    const model = tinyLateModel(2);
    const p = 0.3;
    const dropout = new ModalityDropout({ p, seed: 4, rescale: true });
    const trainer = new BalancedTrainer({ model, optimizer: tf.train.sgd(0.1), balancer: dropout });
    const b = tinyBatch(0);
    const inputs = masked(b, dropout.masks(0, 8, 2), 1 / (1 - p + (p * p) / 2));
    const hand = expectedStep(model, b, inputs, 0.1);
    expect(trainer.step(b).loss).toBeCloseTo(hand.loss, 5);
    tf.dispose(inputs);
    disposeBatch(b);
    trainer.dispose();
    model.dispose();
  });

  it('predicts from every modality', () => {
    const model = tinyLateModel(3);
    const trainer = new BalancedTrainer({ model, optimizer: tf.train.sgd(0.1), balancer: new ModalityDropout({ p: 0.5 }) });
    const b = tinyBatch(1);
    trainer.step(b);
    const { prediction } = trainer.predict(b.inputs);
    const direct = model.apply(b.inputs) as tf.Tensor;
    Array.from(prediction.dataSync()).forEach((v, i) => expect(v).toBeCloseTo(direct.dataSync()[i], 6));
    tf.dispose([prediction, direct]);
    disposeBatch(b);
    trainer.dispose();
    model.dispose();
  });

  it('keeps numTensors constant and continues identically from a checkpoint (late fusion, MMTM)', async () => {
    await checkMethodContract({ model: () => tinyLateModel(6), balancer: () => new ModalityDropout({ seed: 2 }) });
    await checkMethodContract({ model: () => tinyMmtmModel(6), balancer: () => new ModalityDropout({ p: 0.5, seed: 2 }) });
  });

  it('three modalities: late fusion and MMTM keep the contract', async () => {
    await checkMethodContract({ model: () => tinyLateModel(7, 3), balancer: () => new ModalityDropout({ p: [0.2, 0.3, 0.4], seed: 1 }), modalities: 3 });
    await checkMethodContract({ model: () => tinyMmtmModel(7, 3), balancer: () => new ModalityDropout({ seed: 1 }), modalities: 3 });
  });

  it('rejects bad probabilities, a list of the wrong length and a checkpoint of another seed', () => {
    expect(() => new ModalityDropout({ p: 1 })).toThrow(/p must be in \[0, 1\).*got 1/);
    expect(() => new ModalityDropout({ p: [0.2, -0.1] })).toThrow(/p\[1\] must be in \[0, 1\)/);
    const model = tinyLateModel(1);
    expect(() => new BalancedTrainer({ model, optimizer: tf.train.sgd(0.1), balancer: new ModalityDropout({ p: [0.1, 0.2, 0.3] }) })).toThrow(/p lists 3 probabilities, the model has 2 modalities/);
    const trainer = new BalancedTrainer({ model, optimizer: tf.train.sgd(0.1), balancer: new ModalityDropout({ seed: 3 }) });
    expect(() => trainer.balancer.restore({ json: { seed: 4 } })).toThrow(/made with seed 4, this balancer has seed 3/);
    trainer.dispose();
    model.dispose();
  });
});
