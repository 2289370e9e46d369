import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '@mm/backend';
import { beforeAll, describe, expect, it } from 'vitest';
import { BalancedTrainer } from '../balanced-trainer.js';
import { IncompatibleModelError } from '../errors.js';
import { disposeBatch, tinyBatch, tinyLateModel, tinyMmtmModel, tinySharedHeadModel } from '../testing/fixtures.js';
import { checkMethodContract } from '../testing/method-contract.js';
import { Ume } from './ume.js';

const rows = (t: tf.Tensor) => t.arraySync() as number[][];

describe('UME, uni-modal ensemble (Du et al. 2023)', () => {
  beforeAll(async () => {
    await initBackend({ backend: 'wasm', log: false });
  });

  it('trains on Σ_m CE(z_m) and predicts the mean of the per-modality logits, not the fused head (late model, auxiliary heads)', () => {
    const model = tinyLateModel(5);
    const trainer = new BalancedTrainer({ model, optimizer: tf.train.momentum(0.1, 0.9), balancer: new Ume() });
    expect(trainer.logitSource).toBe('aux');
    const b = tinyBatch(2);
    const { prediction, modalities } = trainer.predict(b.inputs);
    const [z0, z1] = modalities!.map(rows);
    rows(prediction).forEach((row, i) => row.forEach((v, c) => expect(v).toBeCloseTo((z0[i][c] + z1[i][c]) / 2, 6)));
    const fused = tf.tidy(() => rows(model.predict(b.inputs) as tf.Tensor));
    expect(Math.max(...rows(prediction).flatMap((row, i) => row.map((v, c) => Math.abs(v - fused[i][c]))))).toBeGreaterThan(1e-3);
    // The loss of a step is Σ_m CE(z_m) at the weights before the update (no dropout or batch norm here).
    const labels = tf.oneHot(b.labels as tf.Tensor1D, 3);
    const hand = tf.tidy(() => modalities!.reduce((s, z) => s + tf.losses.softmaxCrossEntropy(labels, z).dataSync()[0], 0));
    expect(trainer.step(b).loss).toBeCloseTo(hand, 5);
    tf.dispose([prediction, ...modalities!, labels]);
    disposeBatch(b);
    trainer.dispose();
    model.dispose();
  });

  it("never updates a late model's fused head, and trains the encoders", () => {
    const model = tinyLateModel(3);
    const trainer = new BalancedTrainer({ model, optimizer: tf.train.momentum(0.1, 0.9), balancer: new Ume() });
    const values = (name: string) => model.getLayer(name).getWeights().map((w) => Array.from(w.dataSync()));
    const head = values('classifier');
    const encoders = [values('enc0_conv'), values('enc1_conv')];
    for (let s = 0; s < 5; s++) {
      const b = tinyBatch(s);
      trainer.step(b);
      disposeBatch(b);
    }
    expect(values('classifier')).toEqual(head);
    expect(values('enc0_conv')).not.toEqual(encoders[0]);
    expect(values('enc1_conv')).not.toEqual(encoders[1]);
    trainer.dispose();
    model.dispose();
  });

  it('refuses an MMTM model, whose heads are not uni-modal', () => {
    const model = tinyMmtmModel(1);
    let error: unknown;
    try {
      new BalancedTrainer({ model, optimizer: tf.train.sgd(0.1), balancer: new Ume() });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(IncompatibleModelError);
    expect((error as Error).message).toMatch(/ume cannot train this model: it needs branches that each depend on one input only/);
    model.dispose();
  });

  it('keeps numTensors constant and continues identically from a checkpoint (late model, auxiliary heads)', async () => {
    await checkMethodContract({ model: () => tinyLateModel(6), balancer: () => new Ume() });
  });

  it("uses a shared-head model's own per-modality outputs", async () => {
    await checkMethodContract({ model: () => tinySharedHeadModel(6), balancer: () => new Ume() });
  });

  it('ensembles three modalities', async () => {
    await checkMethodContract({ model: () => tinyLateModel(6, 3), balancer: () => new Ume(), modalities: 3 });
    const model = tinyLateModel(2, 3);
    const trainer = new BalancedTrainer({ model, optimizer: tf.train.sgd(0.1), balancer: new Ume() });
    const b = tinyBatch(0, 8, 3);
    const { prediction, modalities } = trainer.predict(b.inputs);
    const z = modalities!.map(rows);
    expect(z).toHaveLength(3);
    rows(prediction).forEach((row, i) => row.forEach((v, c) => expect(v).toBeCloseTo((z[0][i][c] + z[1][i][c] + z[2][i][c]) / 3, 6)));
    tf.dispose([prediction, ...modalities!]);
    disposeBatch(b);
    trainer.dispose();
    model.dispose();
  });
});
