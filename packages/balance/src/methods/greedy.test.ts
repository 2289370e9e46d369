import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '@mm/backend';
import { beforeAll, describe, expect, it } from 'vitest';
import { BalancedTrainer } from '../balanced-trainer.js';
import { rubiLoss } from '../losses.js';
import { GuidedScheduler, RandomScheduler, VanillaScheduler, type Scheduler } from '../schedulers.js';
import { disposeBatch, squaredNorm, tinyBatch, tinyLateModel, tinyMmtmModel } from '../testing/fixtures.js';
import { Greedy } from './greedy.js';

describe('Greedy (Wu et al. 2022)', () => {
  beforeAll(async () => {
    await initBackend({ backend: 'wasm', log: false });
  });

  it('computes μ, s and d_speed as the hand computation on a tiny model (SGD, ‖θ‖ after the step)', () => {
    const model = tinyMmtmModel(3);
    const lr = 0.05;
    const greedy = new Greedy({ learningSpeed: { logBase: Math.E } });
    const trainer = new BalancedTrainer({ model, optimizer: tf.train.sgd(lr), balancer: greedy });
    const g = trainer.view.groups!;
    const expectedTotals = { branch: [0, 0], fusion: [0, 0] };
    for (let step = 0; step < 3; step++) {
      const b = tinyBatch(step);
      // Hand computation: gradients of Σ_k CE at θ_(i−1), then θ_(i) = θ_(i−1) − lr·G.
      const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
      const { grads } = tf.variableGrads(() => {
        const heads = model.apply(b.inputs, { training: true }) as tf.Tensor2D[];
        const y = tf.oneHot(b.labels as tf.Tensor1D, 3);
        return tf.addN(heads.map((h) => tf.losses.softmaxCrossEntropy(y, h))) as tf.Scalar;
      }, vars);
      const mu = (group: { read(): tf.Tensor }[]) => {
        const gs = group.map((v) => grads[(v.read() as tf.Variable).name]);
        const after = group.map((v, i) => tf.sub(v.read(), tf.mul(gs[i], lr)));
        const value = squaredNorm(gs) / squaredNorm(after);
        tf.dispose(after);
        return value;
      };
      [0, 1].forEach((k) => {
        expectedTotals.branch[k] += mu(g.branch[k]);
        expectedTotals.fusion[k] += mu(g.fusion[k]);
      });
      tf.dispose(Object.values(grads));
      const result = trainer.step(b);
      disposeBatch(b);
      const s0 = Math.log(expectedTotals.fusion[0] / expectedTotals.branch[0]);
      const s1 = Math.log(expectedTotals.fusion[1] / expectedTotals.branch[1]);
      expect(result.metrics.rebalance).toBeNull();
      expect(greedy.speed!.speeds()[0]!).toBeCloseTo(s0, 4);
      expect(greedy.speed!.speeds()[1]!).toBeCloseTo(s1, 4);
      expect(result.metrics.dSpeed!).toBeCloseTo(s0 - s1, 4);
    }
    trainer.dispose();
    model.dispose();
  });

  const cases: [string, () => Scheduler, boolean?][] = [
    ['vanilla', () => new VanillaScheduler()],
    ['guided', () => new GuidedScheduler({ alpha: 0, windowSize: 2, warmupSteps: 3 })],
    ['random', () => new RandomScheduler({ warmupSteps: 3, seed: 2 })],
    ['vanilla + RUBi', () => new VanillaScheduler(), true],
  ];
  for (const [name, make, rubi] of cases) {
    it(`keeps tf.memory().numTensors constant over 50 steps and restores normal mode (${name})`, () => {
      const model = tinyMmtmModel(5);
      const trainer = new BalancedTrainer({ model, optimizer: tf.train.momentum(0.01, 0.9), balancer: new Greedy({ scheduler: make(), loss: rubi ? rubiLoss() : undefined }) });
      const warm = tinyBatch(0);
      trainer.step(warm); // optimizer slots are created on the first step
      disposeBatch(warm);
      const before = tf.memory().numTensors;
      const kinds = new Set<string>();
      for (let s = 1; s <= 50; s++) {
        const b = tinyBatch(s);
        const r = trainer.step(b);
        disposeBatch(b);
        kinds.add(r.metrics.rebalance === null ? 'regular' : `rebalance${r.metrics.rebalance}`);
        expect(Number.isFinite(r.loss)).toBe(true);
        for (const layer of trainer.view.fusionLayers) {
          expect(layer.getFusionMode()).toEqual({ kind: 'normal' });
          expect(layer.getRecording()).toBe('none');
        }
      }
      expect(tf.memory().numTensors).toBe(before);
      if (name !== 'vanilla' && !rubi) expect(kinds.size).toBeGreaterThan(1);
      trainer.dispose();
      model.dispose();
    });
  }

  it('trains three modalities with guided re-balancing', () => {
    const model = tinyMmtmModel(9, 3);
    const greedy = new Greedy({ scheduler: new GuidedScheduler({ alpha: 0, windowSize: 1, warmupSteps: 1 }) });
    const trainer = new BalancedTrainer({ model, optimizer: tf.train.sgd(0.05), balancer: greedy });
    const rebalanced = new Set<number>();
    for (let s = 0; s < 8; s++) {
      const b = tinyBatch(s, 6, 3);
      const r = trainer.step(b);
      disposeBatch(b);
      if (r.metrics.rebalance !== null) rebalanced.add(r.metrics.rebalance);
      expect(greedy.speed!.speeds()).toHaveLength(3);
    }
    expect(rebalanced.size).toBeGreaterThan(0);
    expect(trainer.view.groups!.numModalities).toBe(3);
    trainer.dispose();
    model.dispose();
  });

  it('refuses a late-fusion model and names the methods that can train it', () => {
    const model = tinyLateModel(1);
    expect(() => new BalancedTrainer({ model, optimizer: tf.train.sgd(0.1), balancer: new Greedy({ scheduler: new GuidedScheduler({ alpha: 0.1, windowSize: 5, warmupSteps: 1 }) }) })).toThrow(
      /guided cannot train this model: it needs fusion layers.*Methods that can train it: vanilla/,
    );
    model.dispose();
  });

  it('warns about unassigned weights, and once when a parameter group never moves', () => {
    const model = tinyMmtmModel(4);
    const warnings: string[] = [];
    // θ_1 is only m1_conv, made dead (zero input, negative bias, so ReLU passes nothing back): it never gets a gradient.
    const trainer = new BalancedTrainer({
      model,
      optimizer: tf.train.sgd(0.05),
      balancer: new Greedy(),
      fusion: { groups: { branches: [{ prefixes: ['m0_'] }, { names: ['m1_conv'] }] } },
      warn: (m) => warnings.push(m),
    });
    expect(warnings.filter((w) => /in no parameter group.*m1_head/.test(w))).toHaveLength(1);
    tf.tidy(() => {
      const [kernel, bias] = model.getLayer('m1_conv').getWeights();
      model.getLayer('m1_conv').setWeights([kernel, tf.fill(bias.shape, -1)]);
    });
    for (let s = 0; s < 55; s++) {
      const b = tinyBatch(s);
      const zeroed = { inputs: [b.inputs[0], tf.zerosLike(b.inputs[1])], labels: b.labels };
      const r = trainer.step(zeroed);
      expect(r.metrics.dSpeed).toBeNull();
      tf.dispose(zeroed.inputs[1]);
      disposeBatch(b);
    }
    expect(warnings.filter((w) => /modality 1 is still undefined/.test(w))).toHaveLength(1);
    trainer.dispose();
    model.dispose();
  });
});
