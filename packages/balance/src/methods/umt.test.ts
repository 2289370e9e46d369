import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { initBackend } from '@mm/backend';
import { beforeAll, describe, expect, it } from 'vitest';
import { BalancedTrainer } from '../balanced-trainer.js';
import { methodEntry } from './index.js';
import { disposeBatch, tinyBatch, tinyLateModel, tinyMmtmModel, weightValues } from '../testing/fixtures.js';
import { checkMethodContract } from '../testing/method-contract.js';
import { teacherFromModel, Umt, type FeatureTeacher } from './umt.js';

/** A "pre-trained" uni-modal model of modality k: a conv branch, pooled features (width 4), a head. */
function teacherModel(k: number, seed: number): tfl.LayersModel {
  const x = tfl.input({ shape: [6, 6, k + 1] });
  const conv = tfl.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same', activation: 'relu', kernelInitializer: tfl.initializers.glorotUniform({ seed }) }).apply(x) as tfl.SymbolicTensor;
  const pool = tfl.layers.globalAveragePooling2d({ name: 'teacher_pool' }).apply(conv) as tfl.SymbolicTensor;
  return tfl.model({ inputs: x, outputs: tfl.layers.dense({ units: 3 }).apply(pool) as tfl.SymbolicTensor });
}

/** Each variable after one SGD step on `loss`, computed independently of the trainer. */
function sgdStep(vars: tf.Variable[], loss: () => tf.Scalar, lr: number): { value: number; next: Map<string, number[]> } {
  const { value, grads } = tf.variableGrads(loss, vars);
  const next = new Map(vars.map((v) => [v.name, Array.from(tf.tidy(() => tf.sub(v, tf.mul(grads[v.name] ?? tf.zerosLike(v), lr))).dataSync())]));
  const result = { value: value.dataSync()[0], next };
  tf.dispose([value, ...Object.values(grads)]);
  return result;
}

describe('UMT, uni-modal teachers (Du et al. 2023)', () => {
  beforeAll(async () => {
    await initBackend({ backend: 'wasm', log: false });
  });

  it('adds λ·Σ_m MSE(teacher_m(x_m), h_m) to the model loss and leaves the teachers alone (hand computation)', () => {
    const model = tinyLateModel(5);
    const teacherModels = [teacherModel(0, 31), teacherModel(1, 32)];
    const teacherWeights = teacherModels.map(weightValues);
    const lr = 0.1;
    const balancer = new Umt({ teachers: teacherModels.map((t) => teacherFromModel(t, 'teacher_pool')) });
    expect(balancer.lambda).toBe(10);
    const trainer = new BalancedTrainer({ model, optimizer: tf.train.sgd(lr), balancer });
    const b = tinyBatch(3);
    const probe = tfl.model({ inputs: model.inputs, outputs: [model.getLayer('enc0_pool').output as tfl.SymbolicTensor, model.getLayer('enc1_pool').output as tfl.SymbolicTensor, model.outputs[0]] });
    const targets = teacherModels.map((t, m) => tfl.model({ inputs: t.inputs, outputs: t.getLayer('teacher_pool').output as tfl.SymbolicTensor }).predict(b.inputs[m]) as tf.Tensor2D);
    const labels = tf.oneHot(b.labels as tf.Tensor1D, 3);
    const mse = (t: tf.Tensor, h: tf.Tensor) => tf.mean(tf.square(tf.sub(t, h)));
    const handMse = tf.tidy(() => {
      const [h0, h1] = probe.apply(b.inputs) as tf.Tensor[];
      return [mse(targets[0], h0).dataSync()[0], mse(targets[1], h1).dataSync()[0]];
    });
    const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
    const hand = sgdStep(vars, () => {
      const [h0, h1, logits] = probe.apply(b.inputs) as tf.Tensor[];
      return tf.add(tf.losses.softmaxCrossEntropy(labels, logits), tf.mul(tf.add(mse(targets[0], h0), mse(targets[1], h1)), 10)) as tf.Scalar;
    }, lr);

    const r = trainer.step(b);
    expect(r.loss).toBeCloseTo(hand.value, 5);
    expect(r.metrics.mse0).toBeCloseTo(handMse[0], 6);
    expect(r.metrics.mse1).toBeCloseTo(handMse[1], 6);
    expect(handMse[0] * 10).toBeGreaterThan(1e-3); // the term is not negligible in this check
    for (const v of vars) Array.from(v.dataSync()).forEach((x, i) => expect(x).toBeCloseTo(hand.next.get(v.name)![i], 5));
    teacherModels.forEach((t, m) => expect(weightValues(t)).toEqual(teacherWeights[m]));
    tf.dispose([...targets, labels]);
    disposeBatch(b);
    trainer.dispose();
    model.dispose();
    teacherModels.forEach((t) => t.dispose());
  });

  it("treats a teacher's features as constants even when the teacher shares the student's weights", () => {
    // Teacher m = 2·(the student's own h_m). As a constant target the gradient of MSE(2h, h) pulls h up;
    // differentiated through the teacher it would be MSE(2h, h) = mean(h²), pushing h down.
    const model = tinyLateModel(7);
    const lr = 0.5;
    let trainer: BalancedTrainer | undefined;
    const teachers: FeatureTeacher[] = [0, 1].map((m) => (x) => tf.mul(trainer!.view.branchFeature(m, x, false), 2) as tf.Tensor2D);
    trainer = new BalancedTrainer({ model, optimizer: tf.train.sgd(lr), balancer: new Umt({ teachers }) });
    const b = tinyBatch(4);
    const probe = tfl.model({ inputs: model.inputs, outputs: [model.getLayer('enc0_pool').output as tfl.SymbolicTensor, model.getLayer('enc1_pool').output as tfl.SymbolicTensor, model.outputs[0]] });
    const targets = tf.tidy(() => (probe.predict(b.inputs) as tf.Tensor[]).slice(0, 2).map((h) => tf.mul(h, 2)));
    const labels = tf.oneHot(b.labels as tf.Tensor1D, 3);
    const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
    const hand = sgdStep(vars, () => {
      const [h0, h1, logits] = probe.apply(b.inputs) as tf.Tensor[];
      const distill = tf.add(tf.mean(tf.square(tf.sub(targets[0], h0))), tf.mean(tf.square(tf.sub(targets[1], h1))));
      return tf.add(tf.losses.softmaxCrossEntropy(labels, logits), tf.mul(distill, 10)) as tf.Scalar;
    }, lr);
    trainer.step(b);
    for (const v of vars) Array.from(v.dataSync()).forEach((x, i) => expect(x).toBeCloseTo(hand.next.get(v.name)![i], 5));
    tf.dispose([...targets, labels]);
    disposeBatch(b);
    trainer.dispose();
    model.dispose();
  });

  it('names what is wrong with the teachers', () => {
    const model = tinyLateModel(2);
    const wide: FeatureTeacher = (x) => tf.zeros([x.shape[0], 5]);
    const narrow: FeatureTeacher = (x) => tf.zeros([x.shape[0], 4]);
    expect(() => new BalancedTrainer({ model, optimizer: tf.train.sgd(0.1), balancer: new Umt() })).toThrow(/pre-trained uni-modal teachers.*new Umt\(\{ teachers \}\)/);
    expect(() => new BalancedTrainer({ model, optimizer: tf.train.sgd(0.1), balancer: methodEntry('umt').create({ stepsPerEpoch: 1, numModalities: 2 }) })).toThrow(/teachers/);
    expect(() => new BalancedTrainer({ model, optimizer: tf.train.sgd(0.1), balancer: new Umt({ teachers: [narrow] }) })).toThrow(/2 modalities, 1 teachers/);
    const trainer = new BalancedTrainer({ model, optimizer: tf.train.sgd(0.1), balancer: new Umt({ teachers: [narrow, wide] }) });
    const b = tinyBatch(0);
    const tensors = tf.memory().numTensors;
    expect(() => trainer.step(b)).toThrow(/teacher 1 returned features of shape \[8,5\].*h_1 is \[8,4\]/);
    expect(tf.memory().numTensors).toBe(tensors);
    disposeBatch(b);
    trainer.dispose();
    model.dispose();
  });

  it('keeps numTensors constant and continues identically from a checkpoint (late model)', async () => {
    const teacherModels = [teacherModel(0, 41), teacherModel(1, 42)];
    const teachers = teacherModels.map((t) => teacherFromModel(t, 'teacher_pool'));
    await checkMethodContract({ model: () => tinyLateModel(6), balancer: () => new Umt({ teachers }) });
    teacherModels.forEach((t) => t.dispose());
  });

  it('distils into the head inputs of an MMTM model', async () => {
    const teacherModels = [teacherModel(0, 51), teacherModel(1, 52)];
    const teachers = teacherModels.map((t) => teacherFromModel(t, 'teacher_pool'));
    await checkMethodContract({ model: () => tinyMmtmModel(6), balancer: () => new Umt({ teachers, lambda: 1 }) });
    teacherModels.forEach((t) => t.dispose());
  });

  it('takes one teacher per modality for three modalities', async () => {
    const teacherModels = [teacherModel(0, 61), teacherModel(1, 62), teacherModel(2, 63)];
    const teachers = teacherModels.map((t) => teacherFromModel(t, 'teacher_pool'));
    await checkMethodContract({ model: () => tinyLateModel(6, 3), balancer: () => new Umt({ teachers }), modalities: 3 });
    teacherModels.forEach((t) => t.dispose());
  });
});
