import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { initBackend } from '@mm/backend';
import type { LabeledBatch } from '@mm/metrics';
import { beforeAll, describe, expect, it } from 'vitest';
import { BalancedTrainer } from '../balanced-trainer.js';
import { IncompatibleModelError } from '../errors.js';
import { disposeBatch, tinyBatch, tinyLateModel, tinySharedHeadModel } from '../testing/fixtures.js';
import { checkMethodContract } from '../testing/method-contract.js';
import { Mla } from './mla.js';

type Matrix = number[][];

const nameOf = (w: tfl.LayerVariable) => (w.read() as tf.Variable).name;

const matMul = (a: Matrix, b: Matrix): Matrix => a.map((row) => b[0].map((_, j) => row.reduce((s, v, k) => s + v * b[k][j], 0)));
const transpose = (a: Matrix): Matrix => a[0].map((_, j) => a.map((row) => row[j]));
const identity = (d: number): Matrix => Array.from({ length: d }, (_, i) => Array.from({ length: d }, (_, j) => (i === j ? 1 : 0)));
const columnMean = (a: Matrix): number[] => a[0].map((_, j) => a.reduce((s, row) => s + row[j], 0) / a.length);
const softmax = (row: number[]) => {
  const max = Math.max(...row);
  const e = row.map((v) => Math.exp(v - max));
  const sum = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / sum);
};
const entropy = (row: number[]) => -softmax(row).reduce((s, p) => s + p * Math.log(p), 0);

/** OWM by hand: k = P rᵀ, P − k kᵀ/(α + r·k) (a scalar denominator), over its Frobenius norm. */
function absorbByHand(p: Matrix, r: number[], alpha: number): Matrix {
  const k = p.map((row) => row.reduce((s, v, j) => s + v * r[j], 0));
  const rk = r.reduce((s, v, i) => s + v * k[i], 0);
  const next = p.map((row, i) => row.map((v, j) => v - (k[i] * k[j]) / (alpha + rk)));
  const norm = Math.sqrt(next.flat().reduce((s, v) => s + v * v, 0));
  return next.map((row) => row.map((v) => v / norm));
}

/** MLA's state as the hand computation carries it from batch to batch. */
interface HandState {
  projectors: Matrix[];
  absorbed: number[];
  /** Momentum accumulators by variable name (absent: zeros, or never touched). */
  accumulators: Map<string, number[]>;
}

interface HandOptions {
  lr: number;
  momentum: number;
  alpha: number;
  /** 'replace' as the paper and the reference (g ← P·g); 'add' as BalanceBenchmark (g ← g + P·g). */
  combine: 'replace' | 'add';
}

/** Encoder m's and the shared head's variables of a tinySharedHeadModel. */
function parts(model: tfl.LayersModel, m: number) {
  const encoder = model.getLayer(`m${m}_conv`).trainableWeights.map((w) => w.read() as tf.Variable);
  const [kernel, bias] = model.getLayer('shared_head').trainableWeights.map((w) => w.read() as tf.Variable);
  const features = tfl.model({ inputs: model.inputs[m], outputs: model.getLayer(`m${m}_pool`).output as tfl.SymbolicTensor });
  return { encoder, kernel, bias, features };
}

/**
 * One batch of MLA by hand from the model's current weights: for each modality in turn, the
 * head's gradients in closed form (∂CE/∂z = (p − y)/B), the encoder's by autodiff through its
 * branch alone, the kernel gradient projected in PyTorch's [C, d] layout (g_W·Pᵀ) and turned
 * back, a momentum update of encoder m and the head only, then OWM on the others' projectors.
 */
function handBatch(model: tfl.LayersModel, batch: LabeledBatch, options: HandOptions, state: HandState) {
  const numModalities = batch.inputs.length;
  const labels = Array.from(batch.labels.dataSync());
  const size = labels.length;
  const head = parts(model, 0);
  let kernel = head.kernel.arraySync() as Matrix;
  let bias = Array.from(head.bias.dataSync());
  const classes = bias.length;
  const values = new Map(model.trainableWeights.map((w) => [nameOf(w), Array.from(w.read().dataSync())]));
  const accumulators = new Map(state.accumulators);
  const projectors = state.projectors.map((p) => p.map((row) => [...row]));
  const absorbed = [...state.absorbed];
  const losses: number[] = [];
  const step = (name: string, current: number[], gradient: number[]) => {
    const previous = accumulators.get(name) ?? gradient.map(() => 0);
    const accumulation = previous.map((a, i) => options.momentum * a + gradient[i]);
    accumulators.set(name, accumulation);
    return current.map((v, i) => v - options.lr * accumulation[i]);
  };
  for (let m = 0; m < numModalities; m++) {
    const { encoder, features } = parts(model, m);
    // Encoder m has not moved yet in this batch: its features are those of the current weights.
    const h = tf.tidy(() => (features.predict(batch.inputs[m]) as tf.Tensor).arraySync() as Matrix);
    const z = h.map((row) => bias.map((b, c) => row.reduce((s, v, j) => s + v * kernel[j][c], 0) + b));
    const probabilities = z.map(softmax);
    losses.push(-probabilities.reduce((s, p, i) => s + Math.log(p[labels[i]]), 0) / size);
    const dz = probabilities.map((p, i) => p.map((v, c) => (v - (c === labels[i] ? 1 : 0)) / size));
    let kernelGradient = matMul(transpose(h), dz);
    const biasGradient = bias.map((_, c) => dz.reduce((s, row) => s + row[c], 0));
    const { grads } = tf.tidy(() =>
      tf.variableGrads(
        () => tf.losses.softmaxCrossEntropy(tf.oneHot(batch.labels as tf.Tensor1D, classes), tf.add(tf.matMul(features.apply(batch.inputs[m]) as tf.Tensor2D, tf.tensor2d(kernel)), tf.tensor1d(bias))) as tf.Scalar,
        encoder,
      ),
    );
    if (absorbed[m] > 0) {
      const projected = transpose(matMul(transpose(kernelGradient), transpose(projectors[m])));
      kernelGradient = options.combine === 'replace' ? projected : kernelGradient.map((row, i) => row.map((v, j) => v + projected[i][j]));
    }
    for (const v of encoder) values.set(v.name, step(v.name, values.get(v.name)!, Array.from(grads[v.name].dataSync())));
    const newKernel = step(head.kernel.name, kernel.flat(), kernelGradient.flat());
    kernel = kernel.map((row, i) => row.map((_, c) => newKernel[i * classes + c]));
    bias = step(head.bias.name, bias, biasGradient);
    values.set(head.kernel.name, newKernel);
    values.set(head.bias.name, bias);
    tf.dispose(Object.values(grads));
    const r = columnMean(h);
    for (let k = 0; k < numModalities; k++) {
      if (k === m) continue;
      projectors[k] = absorbByHand(projectors[k], r, options.alpha);
      absorbed[k]++;
    }
  }
  return { values, losses, state: { projectors, absorbed, accumulators } };
}

function initialState(model: tfl.LayersModel, numModalities: number): HandState {
  const d = model.getLayer('shared_head').trainableWeights[0].shape[0] as number;
  return { projectors: Array.from({ length: numModalities }, () => identity(d)), absorbed: new Array(numModalities).fill(0), accumulators: new Map() };
}

function expectWeights(model: tfl.LayersModel, expected: Map<string, number[]>, digits = 5): void {
  for (const w of model.trainableWeights) {
    const actual = Array.from(w.read().dataSync());
    const want = expected.get(nameOf(w))!;
    actual.forEach((v, i) => expect(v, `${nameOf(w)}[${i}]`).toBeCloseTo(want[i], digits));
  }
}

describe('MLA (Zhang et al. 2024)', () => {
  beforeAll(async () => {
    await initBackend({ backend: 'wasm', log: false });
  });

  it.each([2, 3])('updates encoder m and the shared head in turn, the other encoders and their momentum untouched (hand computation, %i modalities)', (numModalities) => {
    const model = tinySharedHeadModel(4, numModalities);
    const options: HandOptions = { lr: 0.1, momentum: 0.9, alpha: 0.1, combine: 'replace' };
    const trainer = new BalancedTrainer({ model, optimizer: tf.train.momentum(options.lr, options.momentum), balancer: new Mla() });
    let state = initialState(model, numModalities);
    // Two batches: in the first, modality 0's update is plain (nothing to protect yet); in the second every update is projected.
    for (let s = 0; s < 2; s++) {
      const batch = tinyBatch(s, 8, numModalities);
      const hand = handBatch(model, batch, options, state);
      const before = model.trainableWeights.map((w) => Array.from(w.read().dataSync()));
      const r = trainer.step(batch);
      expectWeights(model, hand.values);
      // Every encoder moved (and, by the comparison above, exactly once: had encoder 0 been handed a zero
      // gradient in modality 1's update, its momentum would have moved it a second time).
      for (let m = 0; m < numModalities; m++) {
        const i = model.trainableWeights.findIndex((w) => w.originalName.startsWith(`m${m}_conv`));
        expect(Array.from(model.trainableWeights[i].read().dataSync())).not.toEqual(before[i]);
      }
      hand.losses.forEach((loss, m) => expect(r.metrics[`loss${m}`]).toBeCloseTo(loss, 5));
      expect(r.loss).toBeCloseTo(hand.losses.reduce((a, b) => a + b, 0) / numModalities, 5);
      expect(r.metrics.alpha).toBeCloseTo(0.1, 10); // the epoch's length is unknown: α_t = α
      state = hand.state;
      disposeBatch(batch);
    }
    // The hand computation and the method hold the same projectors.
    const saved = trainer.balancer.state();
    state.projectors.forEach((p, m) => Array.from(saved.tensors![`projector${m}`].dataSync()).forEach((v, i) => expect(v).toBeCloseTo(p.flat()[i], 5)));
    expect(saved.json.absorbed).toEqual(state.absorbed);
    tf.dispose(Object.values(saved.tensors!));
    trainer.dispose();
    model.dispose();
  });

  it("replaces the head's kernel gradient by its projection P·g with α_t = α^(1 + t/T) (BalanceBenchmark's g + P·g fails this)", async () => {
    const model = tinySharedHeadModel(8);
    const options: HandOptions = { lr: 0.5, momentum: 0, alpha: 0.1, combine: 'replace' };
    const trainer = new BalancedTrainer({ model, optimizer: tf.train.sgd(options.lr), balancer: new Mla() });
    await trainer.startEpoch({ stepsPerEpoch: 4 });
    const first = tinyBatch(0);
    const hand = handBatch(model, first, options, initialState(model, 2));
    trainer.step(first);
    expectWeights(model, hand.values);
    // The second batch sits at t = 1 of T = 4: α_t = 0.1^1.25.
    const second = tinyBatch(1);
    const alpha = 0.1 ** 1.25;
    const replace = handBatch(model, second, { ...options, alpha }, hand.state);
    const add = handBatch(model, second, { ...options, alpha, combine: 'add' }, hand.state);
    const r = trainer.step(second);
    expect(r.metrics.alpha).toBeCloseTo(alpha, 10);
    expectWeights(model, replace.values);
    const kernelName = nameOf(model.getLayer('shared_head').trainableWeights[0]);
    const gap = Math.max(...replace.values.get(kernelName)!.map((v, i) => Math.abs(v - add.values.get(kernelName)![i])));
    expect(gap).toBeGreaterThan(1e-3); // the adding version lands elsewhere, far beyond the tolerance above
    disposeBatch(first);
    disposeBatch(second);
    trainer.dispose();
    model.dispose();
  });

  it("absorbs a feature as OWM, with a scalar denominator α + r P rᵀ (the reference divides element-wise by α + k r)", () => {
    const p = [
      [0.9, 0.1, 0],
      [0.1, 0.8, 0.2],
      [0, 0.2, 0.7],
    ];
    const r = [0.5, 1.5, 2];
    const alpha = 0.05;
    const got = Mla.absorb(tf.tensor2d(p), tf.tensor2d([r]), alpha, true);
    const want = absorbByHand(p, r, alpha);
    const values = Array.from(got.dataSync());
    values.forEach((v, i) => expect(v).toBeCloseTo(want.flat()[i], 6));
    // The reference's element-wise division gives another matrix (before normalising, compared after).
    const k = p.map((row) => row.reduce((s, v, j) => s + v * r[j], 0));
    const elementwise = p.map((row, i) => row.map((v, j) => v - (k[i] * k[j]) / (alpha + k[i] * r[j])));
    const norm = Math.sqrt(elementwise.flat().reduce((s, v) => s + v * v, 0));
    expect(Math.max(...values.map((v, i) => Math.abs(v - elementwise.flat()[i] / norm)))).toBeGreaterThan(1e-2);
    // Without normalisation the projector maps r almost to 0 (α small): r P_new rᵀ = α·rPrᵀ/(α + rPrᵀ).
    const raw = Mla.absorb(tf.tensor2d(p), tf.tensor2d([r]), alpha, false);
    const rPr = r.reduce((s, v, i) => s + v * k[i], 0);
    const after = tf.tidy(() => tf.matMul(tf.matMul(tf.tensor2d([r]), raw), tf.tensor2d([r]), false, true).dataSync()[0]);
    expect(after).toBeCloseTo((alpha * rPr) / (alpha + rPr), 5);
    expect(Mla.alphaAt(0.1, 3, 4)).toBeCloseTo(0.1 ** 1.75, 12);
    expect(Mla.alphaAt(0.1, 3, undefined)).toBe(0.1);
    tf.dispose([got, raw]);
  });

  it('predicts the sum of per-modality logits weighted per sample by exp(H_max − H_m) (hand computation)', () => {
    const model = tinySharedHeadModel(2);
    const trainer = new BalancedTrainer({ model, optimizer: tf.train.sgd(0.1), balancer: new Mla() });
    // Sample 0: modality 0 is confident; sample 1: modality 1 is. One weight per batch could not favour both.
    const z0 = [
      [4, 0, 0],
      [0.1, 0, 0],
    ];
    const z1 = [
      [0.2, 0, 0.1],
      [0, 5, 0],
    ];
    const fused = tf.tidy(() => trainer.balancer.predict!(trainer.view, { prediction: tf.tensor2d(z0) }, () => [tf.tensor2d(z0), tf.tensor2d(z1)]).arraySync());
    const weights = z0.map((_, i) => {
      const h = [entropy(z0[i]), entropy(z1[i])];
      const max = Math.max(...h);
      const e = h.map((v) => Math.exp(max - v));
      return e.map((v) => v / (e[0] + e[1]));
    });
    expect(weights[0][0]).toBeGreaterThan(0.5);
    expect(weights[1][1]).toBeGreaterThan(0.5);
    fused.forEach((row, i) => row.forEach((v, c) => expect(v).toBeCloseTo(weights[i][0] * z0[i][c] + weights[i][1] * z1[i][c], 5)));

    // Through the trainer: the prediction fuses the model's own per-modality logits.
    const batch = tinyBatch(3);
    const { prediction, modalities } = trainer.predict(batch.inputs);
    const [a, b] = modalities!.map((t) => t.arraySync() as Matrix);
    const expected = a.map((row, i) => {
      const h = [entropy(row), entropy(b[i])];
      const w = h.map((v) => Math.exp(Math.max(...h) - v));
      return row.map((v, c) => (w[0] * v + w[1] * b[i][c]) / (w[0] + w[1]));
    });
    (prediction.arraySync() as Matrix).forEach((row, i) => row.forEach((v, c) => expect(v).toBeCloseTo(expected[i][c], 5)));
    tf.dispose([prediction, ...modalities!]);
    disposeBatch(batch);
    trainer.dispose();
    model.dispose();
  });

  it('predicts with fixed weights on request (default equal) and checks their number', () => {
    const model = tinySharedHeadModel(2);
    const batch = tinyBatch(1);
    for (const [balancer, weights] of [
      [new Mla({ fusionWeights: [0.7, 0.3] }), [0.7, 0.3]],
      [new Mla({ fusion: 'fixed' }), [0.5, 0.5]],
    ] as const) {
      const trainer = new BalancedTrainer({ model, optimizer: tf.train.sgd(0.1), balancer });
      const { prediction, modalities } = trainer.predict(batch.inputs);
      const [a, b] = modalities!.map((t) => t.arraySync() as Matrix);
      (prediction.arraySync() as Matrix).forEach((row, i) => row.forEach((v, c) => expect(v).toBeCloseTo(weights[0] * a[i][c] + weights[1] * b[i][c], 5)));
      tf.dispose([prediction, ...modalities!]);
      trainer.dispose();
    }
    expect(() => new BalancedTrainer({ model, optimizer: tf.train.sgd(0.1), balancer: new Mla({ fusionWeights: [0.2, 0.3, 0.5] }) })).toThrow(/fusionWeights has 3 weight\(s\), the model has 2 modalities/);
    expect(() => new Mla({ fusion: 'entropy', fusionWeights: [1, 1] })).toThrow(/fusionWeights are for fusion 'fixed'/);
    disposeBatch(batch);
    model.dispose();
  });

  it('keeps numTensors constant and continues identically from a checkpoint (M updates per batch)', async () => {
    await checkMethodContract({ model: () => tinySharedHeadModel(6), balancer: () => new Mla() });
  });

  it('keeps numTensors constant and continues identically from a checkpoint with three modalities', async () => {
    await checkMethodContract({ model: () => tinySharedHeadModel(6, 3), balancer: () => new Mla(), modalities: 3 });
  });

  it('refuses a late (concatenation) model, naming the methods that can train it', () => {
    const model = tinyLateModel(1, 2, 3, 'concat');
    let error: unknown;
    try {
      new BalancedTrainer({ model, optimizer: tf.train.sgd(0.1), balancer: new Mla() });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(IncompatibleModelError);
    const message = (error as Error).message;
    expect(message).toMatch(/^mla cannot train this model: it needs one head layer applied to every modality/);
    expect(message).toMatch(/this is a late model with 2 modalities/);
    expect(message).toMatch(/Methods that can train it: vanilla, ogm-ge/);
    expect(message).not.toMatch(/train it:.*\bmla\b/);
    model.dispose();
  });
});
