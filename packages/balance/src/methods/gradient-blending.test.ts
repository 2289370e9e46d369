import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { initBackend } from '@mm/backend';
import type { LabeledBatch } from '@mm/metrics';
import { beforeAll, describe, expect, it } from 'vitest';
import { BalancedTrainer, type TrainerCheckpoint } from '../balanced-trainer.js';
import { disposeBatch, tinyBatch, tinyLateModel, tinyMmtmModel } from '../testing/fixtures.js';
import { checkMethodContract } from '../testing/method-contract.js';
import { GradientBlending } from './gradient-blending.js';

const batches = (first: number, count: number, modalities = 2) => Array.from({ length: count }, (_, i) => tinyBatch(first + i, 8, modalities));

/** The MMTM model's objectives by hand: CE of head 0, head 1, and of their mean. */
function objectiveLosses(model: tfl.LayersModel, batch: LabeledBatch, training: boolean): tf.Scalar[] {
  const heads = model.apply(batch.inputs, { training }) as tf.Tensor2D[];
  const labels = tf.oneHot(batch.labels as tf.Tensor1D, 3);
  return [...heads, tf.div(tf.addN(heads), heads.length)].map((z) => tf.losses.softmaxCrossEntropy(labels, z) as tf.Scalar);
}

function meanLoss(model: tfl.LayersModel, data: LabeledBatch[], k: number): number {
  let sum = 0;
  let samples = 0;
  for (const b of data) {
    sum += tf.tidy(() => objectiveLosses(model, b, false)[k].dataSync()[0]) * b.labels.shape[0];
    samples += b.labels.shape[0];
  }
  return sum / samples;
}

/** The trainer's state apart from the balancer's: model weights and statistics, auxiliary heads, optimizer slots and iterations. */
async function trainerState(trainer: BalancedTrainer): Promise<Record<string, number[]>> {
  const c: TrainerCheckpoint = await trainer.checkpoint();
  const tensors = Object.entries(c.tensors).filter(([name]) => !name.startsWith('balancer/')).map(([name, t]) => [name, Array.from(t.data)]);
  return { ...Object.fromEntries(tensors), 'optimizer/iterations': [c.json.optimizer.iterations] };
}

describe('Gradient Blending (Wang, Tran & Feiszli 2020)', () => {
  beforeAll(async () => {
    await initBackend({ backend: 'wasm', log: false });
  });

  it('estimates w_k ∝ ΔG_k/ΔO_k² from temporary SGD trainings (hand computation on an MMTM model)', async () => {
    const model = tinyMmtmModel(4);
    const lr = 0.5;
    const steps = 3;
    const trainer = new BalancedTrainer({ model, optimizer: tf.train.sgd(lr), balancer: new GradientBlending({ estimationSteps: steps }) });
    const balancer = trainer.balancer as GradientBlending;
    expect(balancer.weights).toEqual([1 / 3, 1 / 3, 1 / 3]); // uniform until the first estimate

    // By hand: train each objective alone with plain SGD on the same batches, measure, write the weights back.
    const train = batches(100, steps);
    const heldOut = batches(200, 2);
    const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
    const initial = model.weights.map((w) => tf.clone(w.read()));
    const hand = [0, 1, 2].map((k) => {
      const trainBefore = meanLoss(model, train, k);
      const heldOutBefore = meanLoss(model, heldOut, k);
      for (const b of train) {
        tf.tidy(() => {
          const { grads } = tf.variableGrads(() => objectiveLosses(model, b, true)[k], vars);
          for (const v of vars) if (grads[v.name]) v.assign(tf.sub(v, tf.mul(grads[v.name], lr)));
        });
      }
      const trainAfter = meanLoss(model, train, k);
      const heldOutAfter = meanLoss(model, heldOut, k);
      model.weights.forEach((w, i) => w.write(initial[i]));
      const deltaG = heldOutBefore - heldOutAfter;
      const deltaO = heldOutAfter - trainAfter - (heldOutBefore - trainBefore);
      return { trainBefore, trainAfter, heldOutBefore, heldOutAfter, deltaG, deltaO, raw: Math.max(deltaG, 0) / Math.max(Math.abs(deltaO), 1e-4) ** 2 };
    });
    const total = hand.reduce((s, h) => s + h.raw, 0);
    const expected = hand.map((h) => h.raw / total);
    tf.dispose(initial);
    train.forEach(disposeBatch);
    heldOut.forEach(disposeBatch);

    await trainer.startEpoch({ epoch: 0, train: () => batches(100, steps), validation: () => batches(200, 2) });
    const estimate = balancer.lastEstimate!;
    expect(estimate.steps).toBe(steps);
    expect(estimate.objectives.map((o) => o.objective)).toEqual(['modality 0', 'modality 1', 'fused']);
    estimate.objectives.forEach((o, k) => {
      expect(o.trainBefore).toBeCloseTo(hand[k].trainBefore, 5);
      expect(o.trainAfter).toBeCloseTo(hand[k].trainAfter, 5);
      expect(o.heldOutBefore).toBeCloseTo(hand[k].heldOutBefore, 5);
      expect(o.heldOutAfter).toBeCloseTo(hand[k].heldOutAfter, 5);
      expect(o.trainAfter).toBeLessThan(o.trainBefore); // the copy did train
    });
    // The formula applied to the method's own measurements, and to the independent ones.
    const fromMeasured = estimate.objectives.map((o) => Math.max(o.deltaG, 0) / Math.max(Math.abs(o.deltaO), 1e-4) ** 2);
    const measuredTotal = fromMeasured.reduce((a, b) => a + b, 0);
    estimate.weights.forEach((w, k) => {
      expect(w).toBeCloseTo(fromMeasured[k] / measuredTotal, 6);
      expect(w).toBeCloseTo(expected[k], 4);
    });
    expect(balancer.weights).toEqual(estimate.weights);
    expect(Math.max(...estimate.weights) - Math.min(...estimate.weights)).toBeGreaterThan(0.05); // not uniform

    // MultiBench's default (delta=False) uses G_after/O_after² instead of ΔG/ΔO²: a different weighting here.
    const level = estimate.objectives.map((o) => Math.abs(o.heldOutAfter / Math.max(Math.abs(o.heldOutAfter - o.trainAfter), 1e-4) ** 2));
    const levelTotal = level.reduce((a, b) => a + b, 0);
    expect(Math.max(...level.map((l, k) => Math.abs(l / levelTotal - estimate.weights[k])))).toBeGreaterThan(0.05);

    // A step's loss is the blended sum Σ_k w_k·CE(z_k) + w_fused·CE(prediction).
    const b = tinyBatch(7);
    const w = estimate.weights;
    const handLoss = tf.tidy(() => objectiveLosses(model, b, true).reduce((s, l, k) => s + l.dataSync()[0] * w[k], 0));
    const r = trainer.step(b);
    expect(r.loss).toBeCloseTo(handLoss, 5);
    expect(r.metrics).toEqual({ w0: w[0], w1: w[1], wFused: w[2] });
    disposeBatch(b);
    trainer.dispose();
    model.dispose();
  });

  it('leaves the model, auxiliary heads and optimizer exactly as they were, without leaking tensors (late model, momentum)', async () => {
    const model = tinyLateModel(3);
    const trainer = new BalancedTrainer({ model, optimizer: tf.train.momentum(0.05, 0.9), balancer: new GradientBlending({ estimationSteps: 2 }), seed: 1, warn: () => {} });
    for (let s = 0; s < 3; s++) {
      const b = tinyBatch(s);
      trainer.step(b);
      disposeBatch(b);
    }
    const before = await trainerState(trainer);
    expect(Object.keys(before).filter((n) => n.startsWith('aux/'))).toHaveLength(4);
    expect(Object.keys(before).filter((n) => /^optimizer\/\d+$/.test(n)).length).toBeGreaterThan(0);
    const tensorsBefore = tf.memory().numTensors;
    // A lazy training source is stopped after the batches needed; an array's unused ones are freed.
    let made = 0;
    function* lazy(): Generator<LabeledBatch> {
      for (let i = 0; i < 3; i++) {
        made++;
        yield tinyBatch(300 + i);
      }
    }
    await trainer.startEpoch({ epoch: 1, train: lazy, validation: () => batches(400, 2) });
    expect(made).toBe(2); // the third batch was never made
    await trainer.startEpoch({ epoch: 2, train: () => batches(300, 3), validation: () => batches(400, 2) });
    expect(tf.memory().numTensors).toBe(tensorsBefore);
    expect(await trainerState(trainer)).toEqual(before);
    const estimate = (trainer.balancer as GradientBlending).lastEstimate!;
    expect(estimate.steps).toBe(2); // the first two of the three batches
    estimate.objectives.forEach((o) => expect(o.trainAfter).not.toBe(o.trainBefore));
    trainer.dispose();
    model.dispose();
  });

  it('refuses to estimate without held-out data, naming what to pass', async () => {
    const model = tinyLateModel(2);
    const trainer = new BalancedTrainer({ model, optimizer: tf.train.sgd(0.1), balancer: new GradientBlending({ superEpoch: 2 }) });
    await expect(trainer.startEpoch({ epoch: 0, train: () => batches(0, 1) })).rejects.toThrow(/held-out data at the start of epoch 0.*pass validation/);
    // Between estimates nothing is needed.
    await expect(trainer.startEpoch({ epoch: 1 })).resolves.toBeUndefined();
    trainer.dispose();
    model.dispose();
  });

  it('warns once when training starts without an estimate', () => {
    const model = tinyLateModel(2);
    const warnings: string[] = [];
    const trainer = new BalancedTrainer({ model, optimizer: tf.train.sgd(0.1), balancer: new GradientBlending(), warn: (m) => warnings.push(m) });
    for (let s = 0; s < 2; s++) {
      const b = tinyBatch(s);
      const r = trainer.step(b);
      expect(r.metrics).toEqual({ w0: 1 / 3, w1: 1 / 3, wFused: 1 / 3 });
      disposeBatch(b);
    }
    expect(warnings.filter((m) => m.includes('no weights estimated yet'))).toHaveLength(1);
    trainer.dispose();
    model.dispose();
  });

  it('clips ΔG < 0 to 0, floors |ΔO| at ε, gives a diverged objective 0 and falls back to uniform', () => {
    const { weights } = GradientBlending.blendingWeights([{ deltaG: 0.2, deltaO: 0.1 }, { deltaG: -0.3, deltaO: 0.01 }, { deltaG: 0.01, deltaO: 1e-9 }], 0.01);
    // raw: 0.2/0.01 = 20, 0, 0.01/0.01² = 100
    expect(weights[0]).toBeCloseTo(20 / 120, 10);
    expect(weights[1]).toBe(0);
    expect(weights[2]).toBeCloseTo(100 / 120, 10);
    expect(GradientBlending.blendingWeights([{ deltaG: 0.1, deltaO: Number.NaN }, { deltaG: 0.1, deltaO: -0.1 }], 1e-4).weights).toEqual([0, 1]);
    expect(GradientBlending.blendingWeights([{ deltaG: -1, deltaO: 1 }, { deltaG: 0, deltaO: 1 }, { deltaG: -0.1, deltaO: 0 }], 1e-4)).toEqual({ weights: [1 / 3, 1 / 3, 1 / 3], uniformFallback: true });
  });

  it('keeps numTensors constant and continues identically from a checkpoint (late model, auxiliary heads, an estimate every epoch)', async () => {
    await checkMethodContract({ model: () => tinyLateModel(6), balancer: () => new GradientBlending({ estimationSteps: 2 }) });
  });

  it('uses the heads of an MMTM model', async () => {
    await checkMethodContract({ model: () => tinyMmtmModel(6), balancer: () => new GradientBlending({ estimationSteps: 2, superEpoch: 2 }) });
  });

  it('blends three modalities and the fused prediction (four weights)', async () => {
    await checkMethodContract({ model: () => tinyLateModel(6, 3), balancer: () => new GradientBlending({ estimationSteps: 2 }), modalities: 3 });
    const model = tinyLateModel(8, 3);
    const trainer = new BalancedTrainer({ model, optimizer: tf.train.sgd(0.5), balancer: new GradientBlending({ estimationSteps: 3 }), warn: () => {} });
    await trainer.startEpoch({ epoch: 0, train: () => batches(10, 3, 3), validation: () => batches(20, 2, 3) });
    const estimate = (trainer.balancer as GradientBlending).lastEstimate!;
    expect(estimate.objectives.map((o) => o.objective)).toEqual(['modality 0', 'modality 1', 'modality 2', 'fused']);
    expect(estimate.weights.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 10);
    const b = tinyBatch(1, 8, 3);
    expect(Object.keys(trainer.step(b).metrics).sort()).toEqual(['w0', 'w1', 'w2', 'wFused']);
    disposeBatch(b);
    trainer.dispose();
    model.dispose();
  });
});
