import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { initBackend } from '@mm/backend';
import type { LabeledBatch } from '@mm/metrics';
import { beforeAll, describe, expect, it } from 'vitest';
import { BalancedTrainer } from '../balanced-trainer.js';
import { IncompatibleModelError } from '../errors.js';
import { Mulberry32 } from '../random.js';
import { disposeBatch, tinyBatch, tinyLateModel, tinyMmtmModel } from '../testing/fixtures.js';
import { checkMethodContract } from '../testing/method-contract.js';
import { Agm } from './agm.js';

/**
 * The mono-modal responses written out by hand, as weights of the coalition predictions f(S)
 * (S = the present modalities, e.g. '02'). Two modalities: the paper's ½ formula. Three: the
 * reference's three-modality expression, o_0 = [f(012) − f(12) + f(0)]/3 + [f(01) − f(1) + f(02) − f(2)]/6.
 */
const TWO: Record<string, number>[] = [
  { '01': 1 / 2, '1': -1 / 2, '0': 1 / 2 },
  { '01': 1 / 2, '0': -1 / 2, '1': 1 / 2 },
];
const THREE: Record<string, number>[] = [
  { '012': 1 / 3, '12': -1 / 3, '0': 1 / 3, '01': 1 / 6, '1': -1 / 6, '02': 1 / 6, '2': -1 / 6 },
  { '012': 1 / 3, '02': -1 / 3, '1': 1 / 3, '01': 1 / 6, '0': -1 / 6, '12': 1 / 6, '2': -1 / 6 },
  { '012': 1 / 3, '01': -1 / 3, '2': 1 / 3, '02': 1 / 6, '0': -1 / 6, '12': 1 / 6, '1': -1 / 6 },
];

const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
const softmax = (logits: number[]) => {
  const max = Math.max(...logits);
  const e = logits.map((v) => Math.exp(v - max));
  const sum = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / sum);
};
/** exp(mean of the others − own), per modality. */
const contrast = (v: number[]) => v.map((vm, m) => Math.exp(mean(v.filter((_, j) => j !== m)) - vm));

function inputsFor(batch: LabeledBatch, coalition: string): tf.Tensor[] {
  return batch.inputs.map((x, m) => (coalition.includes(String(m)) ? x : tf.zerosLike(x)));
}

/** One AGM step with SGD computed by hand: responses, scores, k, the loss and every weight after the update. */
function expectedStep(model: tfl.LayersModel, batch: LabeledBatch, table: Record<string, number>[], running: number[], alpha: number, lr: number) {
  const labels = Array.from(batch.labels.dataSync());
  const size = labels.length;
  const coalitions = [...new Set(table.flatMap((t) => Object.keys(t)))];
  const all = coalitions.find((c) => c.length === table.length)!;
  const f: Record<string, number[][]> = {};
  for (const c of coalitions) f[c] = tf.tidy(() => (model.apply(inputsFor(batch, c)) as tf.Tensor).arraySync() as number[][]);
  const responses = table.map((weights) => f[all].map((row, i) => row.map((_, c) => Object.entries(weights).reduce((s, [coalition, w]) => s + w * f[coalition][i][c], 0))));
  const scores = responses.map((o) => mean(o.map((row, i) => -Math.log(Math.max(softmax(row)[labels[i]], 1e-8)))));
  const ratio = contrast(scores);
  const optimal = contrast(running);
  const k = ratio.map((r, m) => Math.exp(alpha * Math.min(optimal[m] - r, 10)));
  const loss = mean(f[all].map((row, i) => -Math.log(softmax(row)[labels[i]])));
  // ∂CE/∂f, the same for every response since f = Σ_m o_m; the update is Σ_m k_m·(∂o_m/∂θ)ᵀ·dy.
  const dy = f[all].map((row, i) => softmax(row).map((p, c) => (p - (c === labels[i] ? 1 : 0)) / size));
  const variables = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const { grads } = tf.variableGrads(() => {
    const g = tf.tensor2d(dy);
    const fs = Object.fromEntries(coalitions.map((c) => [c, model.apply(inputsFor(batch, c)) as tf.Tensor]));
    const terms = table.map((weights, m) => tf.mul(k[m], tf.sum(tf.mul(g, tf.addN(Object.entries(weights).map(([c, w]) => tf.mul(fs[c], w)))))));
    return tf.addN(terms) as tf.Scalar;
  }, variables);
  const expected = new Map(variables.map((v) => [v.name, Array.from(tf.tidy(() => tf.sub(v, tf.mul(grads[v.name], lr))).dataSync())]));
  tf.dispose(Object.values(grads));
  return { scores, k, loss, expected, variables };
}

function expectWeights(variables: tf.Variable[], expected: Map<string, number[]>): void {
  for (const v of variables) Array.from(v.dataSync()).forEach((x, i) => expect(x).toBeCloseTo(expected.get(v.name)![i], 5));
}

describe('AGM (Li et al. 2023)', () => {
  beforeAll(async () => {
    await initBackend({ backend: 'wasm', log: false });
  });

  it('takes the responses as Shapley values with the empty coalition worth 0: the ½ formula for two modalities, the reference expression for three, summing to f(all)', () => {
    for (const table of [TWO, THREE]) {
      const m = table.length;
      const c = Agm.shapleyCoefficients(m);
      for (let j = 0; j < m; j++) {
        for (let s = 1; s < 1 << m; s++) {
          const key = Array.from({ length: m }, (_, b) => b).filter((b) => (s >> b) & 1).join('');
          expect(c[j][s - 1]).toBeCloseTo(table[j][key] ?? 0, 12);
        }
      }
      // Efficiency: the weights of f(all) sum to 1 over the modalities, of every other coalition to 0.
      for (let s = 1; s < 1 << m; s++) expect(c.reduce((sum, row) => sum + row[s - 1], 0)).toBeCloseTo(s === (1 << m) - 1 ? 1 : 0, 12);
    }
  });

  it('modulates each response by k_m = exp(α·min(optimal_m − ratio_m, 10)), with the running means of the previous steps (hand computation, two SGD steps, late fusion)', () => {
    const model = tinyLateModel(5);
    const lr = 0.5;
    const alpha = 0.8;
    const agm = new Agm({ alpha });
    const trainer = new BalancedTrainer({ model, optimizer: tf.train.sgd(lr), balancer: agm });
    let running = [0, 0];
    for (const step of [0, 1]) {
      const b = tinyBatch(step + 3);
      const hand = expectedStep(model, b, TWO, running, alpha, lr);
      const r = trainer.step(b);
      expect(r.loss).toBeCloseTo(hand.loss, 5);
      for (let m = 0; m < 2; m++) {
        expect(r.metrics[`score${m}`]).toBeCloseTo(hand.scores[m], 4);
        expect(r.metrics[`k${m}`]).toBeCloseTo(hand.k[m], 4);
      }
      // The modulation is real: the two k differ from 1 and from each other.
      expect(Math.abs(hand.k[0] - hand.k[1])).toBeGreaterThan(1e-3);
      expectWeights(hand.variables, hand.expected);
      // T_m ← T_m·(t−1)/t + s_m/t, after k was computed from the previous T.
      running = running.map((t, m) => (t * step) / (step + 1) + hand.scores[m] / (step + 1));
      agm.running.scores.forEach((t, m) => expect(t).toBeCloseTo(running[m], 5));
      expect(agm.running.steps).toBe(step + 1);
      disposeBatch(b);
    }
    trainer.dispose();
    model.dispose();
  });

  it('three modalities: the seven coalitions by hand, k from the others’ mean score (hand computation, late fusion)', () => {
    const model = tinyLateModel(8, 3);
    const lr = 0.5;
    const alpha = 1.3;
    const trainer = new BalancedTrainer({ model, optimizer: tf.train.sgd(lr), balancer: new Agm({ alpha }) });
    // From a history where the running means differ, so optimal_m ≠ 1.
    const running = [1.2, 0.9, 1.05];
    trainer.balancer.restore({ json: { runningScores: running, steps: 10 } });
    const b = tinyBatch(2, 8, 3);
    const hand = expectedStep(model, b, THREE, running, alpha, lr);
    const r = trainer.step(b);
    expect(r.loss).toBeCloseTo(hand.loss, 5);
    for (let m = 0; m < 3; m++) {
      expect(r.metrics[`score${m}`]).toBeCloseTo(hand.scores[m], 4);
      expect(r.metrics[`k${m}`]).toBeCloseTo(hand.k[m], 4);
    }
    expectWeights(hand.variables, hand.expected);
    disposeBatch(b);
    trainer.dispose();
    model.dispose();
  });

  it('slows the modality whose score improved on its running mean more than the others did (the inverted public port speeds it up)', () => {
    // a's history is weaker (T_a = 2 > T_v = 1) and it is still weaker now (s_a = 1.2 > s_v = 0.9),
    // but it improved by 0.8 against v's 0.1: the official rule slows a. The inverted port's
    // ratio exp(s_a − s_v) and optimal exp(T_a − T_v) give k_a = exp(α·(e − e^0.3)) > 1.
    const alpha = 1;
    const k = tf.tidy(() => Array.from(Agm.coefficients(tf.tensor1d([1.2, 0.9]), tf.tensor1d([2, 1]), alpha, 10).dataSync()));
    expect(k[0]).toBeCloseTo(Math.exp(alpha * (Math.exp(-1) - Math.exp(-0.3))), 5);
    expect(k[0]).toBeLessThan(1);
    expect(k[1]).toBeGreaterThan(1);

    // Over random scores and histories, for 2 and 3 modalities: k_m < 1 exactly when
    // T_m − s_m exceeds the mean of the others' T_j − s_j.
    const random = new Mulberry32(11);
    for (const m of [2, 3]) {
      for (let trial = 0; trial < 200; trial++) {
        const s = Array.from({ length: m }, () => 0.2 + 2 * random.next());
        const t = Array.from({ length: m }, () => 0.2 + 2 * random.next());
        const coefficients = tf.tidy(() => Array.from(Agm.coefficients(tf.tensor1d(s), tf.tensor1d(t), alpha, 10).dataSync()));
        const gain = t.map((tm, j) => tm - s[j]);
        coefficients.forEach((kj, j) => {
          const lead = gain[j] - mean(gain.filter((_, i) => i !== j));
          if (Math.abs(lead) < 1e-3) return;
          expect(kj < 1).toBe(lead > 0);
        });
      }
    }
  });

  it('in a training step, with an even history, slows the modality that scores better on the batch and speeds up the other', () => {
    const model = tinyLateModel(3);
    const trainer = new BalancedTrainer({ model, optimizer: tf.train.sgd(0.1), balancer: new Agm() });
    trainer.balancer.restore({ json: { runningScores: [1.1, 1.1], steps: 100 } });
    const b = tinyBatch(4);
    const { metrics } = trainer.step(b);
    const better = metrics.score0 < metrics.score1 ? 0 : 1;
    expect(Math.abs(metrics.score0 - metrics.score1)).toBeGreaterThan(1e-3);
    expect(metrics[`k${better}`]).toBeLessThan(1);
    expect(metrics[`k${1 - better}`]).toBeGreaterThan(1);
    disposeBatch(b);
    trainer.dispose();
    model.dispose();
  });

  it('keeps k = 1 before the first modulated epoch but still updates the running means', async () => {
    const model = tinyLateModel(4);
    const agm = new Agm({ firstEpoch: 1 });
    const trainer = new BalancedTrainer({ model, optimizer: tf.train.sgd(0.1), balancer: agm });
    await trainer.startEpoch({ epoch: 0 });
    const b = tinyBatch(1);
    const { metrics } = trainer.step(b);
    expect([metrics.k0, metrics.k1]).toEqual([1, 1]);
    expect(agm.running.scores[0]).toBeCloseTo(metrics.score0, 6);
    expect(agm.running.scores[1]).toBeCloseTo(metrics.score1, 6);
    await trainer.startEpoch({ epoch: 1 });
    const second = trainer.step(b).metrics;
    expect(second.k0).not.toBe(1);
    disposeBatch(b);
    trainer.dispose();
    model.dispose();
  });

  it('keeps numTensors constant and continues identically from a checkpoint (late fusion)', async () => {
    await checkMethodContract({ model: () => tinyLateModel(6), balancer: () => new Agm() });
  });

  it('keeps numTensors constant and continues identically from a checkpoint (MMTM model)', async () => {
    await checkMethodContract({ model: () => tinyMmtmModel(6), balancer: () => new Agm({ alpha: 1.5 }) });
  });

  it('three modalities: late fusion and MMTM keep the contract', async () => {
    await checkMethodContract({ model: () => tinyLateModel(7, 3), balancer: () => new Agm(), modalities: 3 });
    await checkMethodContract({ model: () => tinyMmtmModel(7, 3), balancer: () => new Agm(), modalities: 3 });
  });

  it('refuses four modalities (2^M − 1 passes per step), naming the methods that can train the model', () => {
    const model = tinyLateModel(1, 4);
    expect(() => new BalancedTrainer({ model, optimizer: tf.train.sgd(0.1), balancer: new Agm() })).toThrow(IncompatibleModelError);
    expect(() => new BalancedTrainer({ model, optimizer: tf.train.sgd(0.1), balancer: new Agm() })).toThrow(/defined for 2–3 modalities, the model has 4.*Methods that can train it: vanilla/);
    model.dispose();
  });

  it('rejects bad options and a state for another number of modalities', () => {
    expect(() => new Agm({ alpha: -1 })).toThrow(/alpha must be a finite number ≥ 0/);
    expect(() => new Agm({ clip: 0 })).toThrow(/clip must be > 0/);
    expect(() => new Agm({ firstEpoch: 3, lastEpoch: 1 })).toThrow(/lastEpoch \(1\) is before firstEpoch \(3\)/);
    const model = tinyLateModel(1);
    const trainer = new BalancedTrainer({ model, optimizer: tf.train.sgd(0.1), balancer: new Agm() });
    expect(() => trainer.balancer.restore({ json: { runningScores: [1, 2, 3], steps: 4 } })).toThrow(/running scores for 3 modalities, the model has 2/);
    expect(() => trainer.balancer.restore({ json: { runningScores: [1, 2] } })).toThrow(/steps must be an integer/);
    trainer.dispose();
    model.dispose();
  });
});
