import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '@mm/backend';
import { MMTM } from '@mm/mmtm';
import { beforeAll, describe, expect, it } from 'vitest';
import { BalancedTrainer, type TrainerCheckpoint } from './balanced-trainer.js';
import { TrainingDivergedError } from './errors.js';
import { Greedy } from './methods/greedy.js';
import { GuidedScheduler } from './schedulers.js';
import { disposeBatch, tinyBatch, tinyLateModel, tinyMmtmModel, tinySharedHeadModel, weightValues } from './testing/fixtures.js';

describe('BalancedTrainer', () => {
  beforeAll(async () => {
    await initBackend({ backend: 'wasm', log: false });
  });

  it('reads the fusion kind, features and per-modality encoders off the model graph', () => {
    const late = new BalancedTrainer({ model: tinyLateModel(1), optimizer: tf.train.sgd(0.1) });
    expect(late.view.kind).toBe('late');
    expect(late.view.featureSizes).toEqual([4, 4]);
    expect([...late.view.capabilities].sort()).toEqual(['features', 'modality-logits', 'separable-branches']);
    const names = (vs: tf.Variable[]) => vs.map((v) => v.name.split('/')[0]);
    expect(names(late.view.encoders[0])).toEqual(['enc0_conv', 'enc0_conv']);
    expect(names(late.view.encoders[1])).toEqual(['enc1_conv', 'enc1_conv']);
    expect(names(late.view.headVariables)).toEqual(['classifier', 'classifier']);
    const shared = new BalancedTrainer({ model: tinySharedHeadModel(1), optimizer: tf.train.sgd(0.1) });
    expect(shared.view.kind).toBe('shared-head');
    expect(shared.view.has('shared-head')).toBe(true);
    const mmtm = new BalancedTrainer({ model: tinyMmtmModel(1), optimizer: tf.train.sgd(0.1) });
    expect(mmtm.view.kind).toBe('mmtm');
    expect(names(mmtm.view.encoders[1])).toEqual(['m1_conv', 'm1_conv']); // θ_1 without its head
    for (const t of [late, shared, mmtm]) {
      t.dispose();
      t.model.dispose();
    }
  });

  for (const merge of ['concat', 'sum'] as const) {
    it(`splits a late (${merge}) model's linear head into per-modality logits that add up to its output`, () => {
      const model = tinyLateModel(2, 2, 3, merge);
      const trainer = new BalancedTrainer({ model, optimizer: tf.train.sgd(0.1) });
      const b = tinyBatch(1);
      const [sum, prediction] = tf.tidy(() => {
        const out = trainer.view.forward(b.inputs, false);
        return [tf.addN(trainer.view.modalityLogits(out)), out.prediction];
      });
      const expected = model.predict(b.inputs) as tf.Tensor;
      expect(Array.from(prediction.dataSync()).map((v, i) => v - expected.dataSync()[i]).every((d) => Math.abs(d) < 1e-5)).toBe(true);
      Array.from(sum.dataSync()).forEach((v, i) => expect(v).toBeCloseTo(prediction.dataSync()[i], 5));
      tf.dispose([sum, prediction, expected]);
      disposeBatch(b);
      trainer.dispose();
      model.dispose();
    });
  }

  it('trains a late-fusion model with no declaration and keeps numTensors constant over 50 steps', async () => {
    const model = tinyLateModel(3);
    const trainer = new BalancedTrainer({ model, optimizer: tf.train.adam(0.01) });
    const first = tinyBatch(0);
    const initial = trainer.step(first).loss;
    disposeBatch(first);
    const before = tf.memory().numTensors;
    let last = initial;
    for (let s = 1; s <= 50; s++) {
      const b = tinyBatch(s);
      last = trainer.step(b).loss;
      disposeBatch(b);
    }
    expect(tf.memory().numTensors).toBe(before);
    expect(last).toBeLessThan(initial);
    const evaluation = await trainer.evaluate([tinyBatch(100), tinyBatch(101)]);
    expect(evaluation.samples).toBe(16);
    expect(evaluation.accuracy).toBeGreaterThanOrEqual(0);
    expect(evaluation.modalityAccuracy).toHaveLength(2);
    expect(tf.memory().numTensors).toBe(before);
    trainer.dispose();
    model.dispose();
  });

  it('continues identically from a checkpoint (weights, MMTM statistics, momentum slots, scheduler, learning speed)', async () => {
    const make = () => {
      const model = tinyMmtmModel(7);
      const balancer = new Greedy({ scheduler: new GuidedScheduler({ alpha: 0.001, windowSize: 2, warmupSteps: 2 }) });
      return { model, trainer: new BalancedTrainer({ model, optimizer: tf.train.momentum(0.02, 0.9), balancer }) };
    };
    const straight = make();
    const losses: number[] = [];
    const kinds: (number | null)[] = [];
    let checkpoint: TrainerCheckpoint | undefined;
    for (let s = 0; s < 12; s++) {
      if (s === 6) checkpoint = JSON.parse(JSON.stringify(await straight.trainer.checkpoint(), (_, v) => (ArrayBuffer.isView(v) ? Array.from(v as Float32Array) : v)));
      const b = tinyBatch(s);
      const r = straight.trainer.step(b);
      losses.push(r.loss);
      kinds.push(r.metrics.rebalance);
      disposeBatch(b);
    }
    expect(kinds.some((k) => k !== null)).toBe(true);
    // Through JSON (as a file would), arrays come back as plain number lists.
    for (const t of Object.values(checkpoint!.tensors)) t.data = t.dtype === 'int32' ? Int32Array.from(t.data) : Float32Array.from(t.data);

    const resumed = make();
    const tensorsBeforeRestore = tf.memory().numTensors;
    await resumed.trainer.restore(checkpoint!);
    expect(resumed.trainer.steps).toBe(6);
    // Restoring replaces values and creates the momentum slots (one per trainable weight), nothing else.
    expect(tf.memory().numTensors - tensorsBeforeRestore).toBe(resumed.model.trainableWeights.length);
    for (let s = 6; s < 12; s++) {
      const b = tinyBatch(s);
      const r = resumed.trainer.step(b);
      disposeBatch(b);
      expect(r.metrics.rebalance).toBe(kinds[s]);
      expect(r.loss).toBeCloseTo(losses[s], 6);
    }
    const a = weightValues(straight.model);
    const b = weightValues(resumed.model);
    a.forEach((w, i) => w.forEach((v, j) => expect(b[i][j]).toBeCloseTo(v, 6)));
    const other = new BalancedTrainer({ model: tinyMmtmModel(7), optimizer: tf.train.adam(0.1), balancer: new Greedy({ scheduler: new GuidedScheduler({ alpha: 0.001, windowSize: 2, warmupSteps: 2 }) }) });
    await expect(other.restore(checkpoint!)).rejects.toThrow(/optimizer is Momentum/);
    const smaller = new BalancedTrainer({ model: tinyLateModel(7), optimizer: tf.train.momentum(0.02, 0.9) });
    await expect(smaller.restore({ ...checkpoint!, json: { ...checkpoint!.json, balancer: { name: 'vanilla', state: {} } } })).rejects.toThrow(/does not fit this model: missing/);
    for (const t of [straight.trainer, resumed.trainer, other, smaller]) {
      t.dispose();
      t.model.dispose();
    }
  });

  it('raises TrainingDivergedError before anything changes, and skips such batches on request', async () => {
    const model = tinyMmtmModel(11);
    const greedy = new Greedy({ scheduler: new GuidedScheduler({ alpha: 0, windowSize: 2, warmupSteps: 1 }) });
    const trainer = new BalancedTrainer({ model, optimizer: tf.train.momentum(0.02, 0.9), balancer: greedy });
    for (let s = 0; s < 3; s++) {
      const b = tinyBatch(s);
      trainer.step(b);
      disposeBatch(b);
    }
    const weights = weightValues(model);
    const state = JSON.stringify(greedy.state());
    const slots = (await trainer.checkpoint()).tensors;
    const bad = tinyBatch(3);
    const poisoned = { inputs: [tf.mul(bad.inputs[0], Number.NaN), bad.inputs[1]], labels: bad.labels };
    let error: unknown;
    try {
      trainer.step(poisoned);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(TrainingDivergedError);
    expect((error as TrainingDivergedError).step).toBe(3);
    expect((error as TrainingDivergedError).nonFiniteGradients.length).toBeGreaterThan(0);
    expect(weightValues(model)).toEqual(weights); // MMTM statistics and batch statistics included
    expect(JSON.stringify(greedy.state())).toBe(state);
    expect(trainer.steps).toBe(3);
    const after = (await trainer.checkpoint()).tensors;
    for (const name of Object.keys(slots)) expect(Array.from(after[name].data)).toEqual(Array.from(slots[name].data));
    for (const layer of trainer.view.fusionLayers as unknown as MMTM[]) expect(layer.getFusionMode()).toEqual({ kind: 'normal' });

    const skipping = new BalancedTrainer({ model, optimizer: tf.train.sgd(0.01), nonFinite: 'skip' });
    const r = skipping.step(poisoned);
    expect(r.applied).toBe(false);
    expect(skipping.skippedSteps).toBe(1);
    expect(skipping.steps).toBe(0);
    expect(weightValues(model)).toEqual(weights);
    tf.dispose(poisoned.inputs[0]);
    disposeBatch(bad);
    trainer.dispose();
    skipping.dispose();
    model.dispose();
  });

  it('names what is wrong with a batch', () => {
    const model = tinyLateModel(1);
    const trainer = new BalancedTrainer({ model, optimizer: tf.train.sgd(0.1) });
    const b = tinyBatch(0);
    expect(() => trainer.step({ inputs: [b.inputs[0]], labels: b.labels })).toThrow(/takes 2 inputs.*batch has 1/);
    const short = tf.slice(b.inputs[1], 0, 4);
    expect(() => trainer.step({ inputs: [b.inputs[0], short], labels: b.labels })).toThrow(/input 1 has 4 samples, the labels 8/);
    tf.dispose(short);
    disposeBatch(b);
    trainer.dispose();
    model.dispose();
  });
});
