import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { initBackend } from '@mm/backend';
import { MMTM } from '@mm/mmtm';
import { beforeAll, describe, expect, it } from 'vitest';
import { rubiLoss } from './losses.js';
import { resolveParameterGroups } from './parameter-groups.js';
import { GuidedScheduler, RandomScheduler, VanillaScheduler, type Scheduler } from './schedulers.js';
import { BalancedTrainer } from './training-step.js';

/** A small user-style two-branch network: conv branches, one MMTM, a head per branch. */
function tinyFusedModel(seed = 1, modalities = 2): tfl.LayersModel {
  const inputs = Array.from({ length: modalities }, (_, k) => tfl.input({ shape: [6, 6, k + 1], name: `x_m${k}` }));
  const features = inputs.map((x, k) =>
    tfl.layers
      .conv2d({ name: `m${k}_conv`, filters: 4, kernelSize: 3, padding: 'same', activation: 'relu', kernelInitializer: tfl.initializers.glorotUniform({ seed: seed + k }) })
      .apply(x) as tfl.SymbolicTensor,
  );
  const fused = new MMTM({ name: 'mmtm_1', seed: seed + 10 }).apply(features) as tfl.SymbolicTensor[];
  const heads = fused.map((f, k) => {
    const pooled = tfl.layers.globalAveragePooling2d({ name: `m${k}_pool` }).apply(f) as tfl.SymbolicTensor;
    return tfl.layers.dense({ name: `m${k}_head`, units: 3, kernelInitializer: tfl.initializers.glorotUniform({ seed: seed + 20 + k }) }).apply(pooled) as tfl.SymbolicTensor;
  });
  return tfl.model({ inputs, outputs: heads });
}

function batch(step: number, size = 8, modalities = 2) {
  return tf.tidy(() => {
    const labels = tf.tensor1d(Array.from({ length: size }, (_, i) => (i + step) % 3), 'int32');
    const inputs = Array.from({ length: modalities }, (_, k) => {
      const signal = tf.reshape(tf.cast(labels, 'float32'), [size, 1, 1, 1]);
      return tf.add(tf.mul(tf.ones([size, 6, 6, k + 1]), signal), tf.randomNormal([size, 6, 6, k + 1], 0, 0.5, 'float32', step * 10 + k + 1)); // tfjs treats seed 0 as unseeded
    });
    return { inputs, labels };
  });
}

function disposeBatch(b: { inputs: tf.Tensor[]; labels: tf.Tensor }) {
  tf.dispose([...b.inputs, b.labels]);
}

function squaredNorm(tensors: tf.Tensor[]): number {
  return tensors.reduce((s, t) => s + tf.tidy(() => tf.sum(tf.square(t)).dataSync()[0]), 0);
}

describe('BalancedTrainer', () => {
  beforeAll(async () => {
    await initBackend({ backend: 'wasm', log: false });
  });

  it('derives θ_k and θ\'_k from the m{k}_ naming and the MMTM layers', () => {
    const model = tinyFusedModel();
    const g = resolveParameterGroups(model);
    const names = (vs: { name: string }[]) => vs.map((v) => v.name.replace(/_\d+$/, ''));
    expect(g.numModalities).toBe(2);
    expect(g.branch[0].every((v) => /m0_/.test(v.name))).toBe(true);
    expect(g.branch[0]).toHaveLength(4); // conv kernel+bias, head kernel+bias
    expect(names(g.fusion[0]).map((n) => n.split('/').pop())).toEqual(['squeeze_kernel', 'squeeze_bias', 'excite0_kernel', 'excite0_bias']);
    expect(names(g.fusion[1]).map((n) => n.split('/').pop())).toEqual(['squeeze_kernel', 'squeeze_bias', 'excite1_kernel', 'excite1_bias']);
    expect(g.unassigned).toEqual([]);
    expect(g.conflicts).toEqual([]);
  });

  it('reports unassigned and doubly assigned weights, and throws when strict', () => {
    const model = tinyFusedModel();
    const loose = resolveParameterGroups(model, { branches: [{ prefixes: ['m0_conv'] }, { prefixes: ['m1_', 'm0_conv'] }] });
    expect(loose.unassigned.map((n) => n.split('/')[0])).toEqual(['m0_head', 'm0_head']);
    expect(loose.conflicts).toHaveLength(2);
    expect(() => resolveParameterGroups(model, { branches: [{ predicate: (n) => n.startsWith('m0_conv') }, { names: ['m1_conv', 'm1_head'] }], strict: true })).toThrow(
      /unassigned: m0_head/,
    );
    expect(() => resolveParameterGroups(model, { branches: [{ prefixes: ['nope_'] }, { prefixes: ['m1_'] }] })).toThrow(/empty parameter group.*θ_0/);
  });

  it('computes μ, s and d_speed as the hand computation on a tiny model (SGD, ‖θ‖ after the step)', () => {
    const model = tinyFusedModel(3);
    const lr = 0.05;
    const trainer = new BalancedTrainer({ model, optimizer: tf.train.sgd(lr), learningSpeed: { logBase: Math.E } });
    const g = trainer.groups!;
    const expectedTotals = { branch: [0, 0], fusion: [0, 0] };
    for (let step = 0; step < 3; step++) {
      const b = batch(step);
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
      expect(result.kind).toEqual({ kind: 'regular' });
      expect(result.speeds[0]!).toBeCloseTo(s0, 4);
      expect(result.speeds[1]!).toBeCloseTo(s1, 4);
      expect(result.dSpeed!).toBeCloseTo(s0 - s1, 4);
    }
  });

  const schedulers: [string, () => Scheduler, boolean?][] = [
    ['vanilla', () => new VanillaScheduler()],
    ['guided', () => new GuidedScheduler({ alpha: 0, windowSize: 2, warmupSteps: 3 })],
    ['random', () => new RandomScheduler({ warmupSteps: 3, seed: 2 })],
    ['vanilla + RUBi', () => new VanillaScheduler(), true],
  ];
  for (const [name, make, rubi] of schedulers) {
    it(`keeps tf.memory().numTensors constant over 50 steps and restores normal mode (${name})`, () => {
      const model = tinyFusedModel(5);
      const trainer = new BalancedTrainer({ model, optimizer: tf.train.momentum(0.01, 0.9), scheduler: make(), loss: rubi ? rubiLoss() : undefined });
      const warm = batch(0);
      trainer.step(warm); // optimizer slots are created on the first step
      disposeBatch(warm);
      const before = tf.memory().numTensors;
      const kinds = new Set<string>();
      for (let s = 1; s <= 50; s++) {
        const b = batch(s);
        const r = trainer.step(b);
        disposeBatch(b);
        kinds.add(r.kind.kind === 'regular' ? 'regular' : `rebalance${r.kind.modality}`);
        expect(Number.isFinite(r.loss)).toBe(true);
        for (const layer of trainer.fusionLayers) {
          expect(layer.getFusionMode()).toEqual({ kind: 'normal' });
          expect(layer.getRecording()).toBe('none');
        }
      }
      expect(tf.memory().numTensors).toBe(before);
      if (name !== 'vanilla' && !rubi) expect(kinds.size).toBeGreaterThan(1);
      model.dispose();
    });
  }

  it('resumes from saved state to the same result as an uninterrupted run', async () => {
    const make = () => {
      const model = tinyFusedModel(7);
      const optimizer = tf.train.momentum(0.02, 0.9);
      return { model, optimizer, trainer: new BalancedTrainer({ model, optimizer, scheduler: new GuidedScheduler({ alpha: 0.001, windowSize: 2, warmupSteps: 2 }) }) };
    };
    const straight = make();
    const losses: number[] = [];
    const kinds: string[] = [];
    let checkpoint: { model: tf.Tensor[]; optimizer: { name: string; tensor: tf.Tensor }[]; state: unknown } | undefined;
    for (let s = 0; s < 12; s++) {
      if (s === 6) {
        // Checkpoint: model weights (MMTM statistics included), optimizer slots, trainer state as JSON.
        checkpoint = {
          model: straight.model.getWeights().map((t) => tf.clone(t)),
          optimizer: (await straight.optimizer.getWeights()).map((w) => ({ name: w.name, tensor: tf.clone(w.tensor) })),
          state: JSON.parse(JSON.stringify(straight.trainer.state())),
        };
      }
      const b = batch(s);
      const r = straight.trainer.step(b);
      losses.push(r.loss);
      kinds.push(JSON.stringify(r.kind));
      disposeBatch(b);
    }
    expect(kinds.some((k) => k.includes('rebalance'))).toBe(true);

    const resumed = make();
    resumed.model.setWeights(checkpoint!.model);
    await resumed.optimizer.setWeights(checkpoint!.optimizer);
    resumed.trainer.restore(checkpoint!.state as never);
    for (let s = 6; s < 12; s++) {
      const b = batch(s);
      const r = resumed.trainer.step(b);
      disposeBatch(b);
      expect(JSON.stringify(r.kind)).toBe(kinds[s]);
      expect(r.loss).toBeCloseTo(losses[s], 6);
    }
    expect(resumed.trainer.state()).toEqual(straight.trainer.state());
    const a = straight.model.getWeights().map((t) => Array.from(t.dataSync()));
    const b = resumed.model.getWeights().map((t) => Array.from(t.dataSync()));
    a.forEach((w, i) => w.forEach((v, j) => expect(b[i][j]).toBeCloseTo(v, 6)));
  });

  it('trains three modalities with guided re-balancing', () => {
    const model = tinyFusedModel(9, 3);
    const trainer = new BalancedTrainer({ model, optimizer: tf.train.sgd(0.05), scheduler: new GuidedScheduler({ alpha: 0, windowSize: 1, warmupSteps: 1 }) });
    const kinds: string[] = [];
    for (let s = 0; s < 8; s++) {
      const b = batch(s, 6, 3);
      const r = trainer.step(b);
      disposeBatch(b);
      kinds.push(r.kind.kind);
      expect(r.speeds).toHaveLength(3);
    }
    expect(kinds).toContain('rebalance');
    expect(trainer.groups!.numModalities).toBe(3);
  });
});
