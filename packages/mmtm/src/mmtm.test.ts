import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import '@tensorflow/tfjs-backend-cpu';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '@mm/backend';
import { fusionLayersOf, setFusionMode, setFusionRecording, withFusionMode } from './fusion-mode.js';
import { MMTM } from './mmtm.js';

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

/** Plain-JS MMTM forward for one sample, from the layer's own weights: the hand computation. */
function referenceForward(
  layer: MMTM,
  maps: number[][][], // per modality: [positions][channels]
  override?: { squeeze?: (number[] | null)[]; excitation?: (number[] | null)[] },
): number[][][] {
  return referenceDetails(layer, maps, override).outputs;
}

function referenceDetails(
  layer: MMTM,
  maps: number[][][],
  override?: { squeeze?: (number[] | null)[]; excitation?: (number[] | null)[] },
): { outputs: number[][][]; excitations: number[][]; gates: number[][] } {
  const excitations: number[][] = [];
  const gates: number[][] = [];
  const w = layer.getWeights().map((t) => Array.from(t.dataSync()));
  const channels = maps.map((m) => m[0].length);
  const total = channels.reduce((a, b) => a + b, 0);
  const hidden = Math.floor((2 * total) / layer.ratio);
  const [sk, sb] = w;
  const squeezeOf = (m: number[][]) => m[0].map((_, c) => m.reduce((s, p) => s + p[c], 0) / m.length);
  const h = maps.map(squeezeOf);
  const outputs = maps.map((map, k) => {
    const z = h.map((hk, j) => (j !== k && override?.squeeze?.[j]) || hk).flat();
    const a = Array.from({ length: hidden }, (_, u) => Math.max(0, sb[u] + z.reduce((s, zi, i) => s + zi * sk[i * hidden + u], 0)));
    const ek = w[2 + 2 * k];
    const eb = w[3 + 2 * k];
    const excitation = Array.from({ length: channels[k] }, (_, c) => eb[c] + a.reduce((s, ai, u) => s + ai * ek[u * channels[k] + c], 0));
    const wk = override?.excitation?.[k] ?? excitation;
    const gate = wk.map((v) => layer.gateScale * sigmoid(v));
    excitations.push(excitation);
    gates.push(gate);
    return map.map((p) => p.map((v, c) => v * gate[c]));
  });
  return { outputs, excitations, gates };
}

/** Splits a channels-last [positions·C] array into positions × channels. */
function positions(data: ArrayLike<number> & { slice(a: number, b: number): ArrayLike<number> }, c: number): number[][] {
  const out: number[][] = [];
  for (let i = 0; i < data.length; i += c) out.push(Array.from(data.slice(i, i + c)));
  return out;
}

function maxAbs(a: number[], b: number[]): number {
  return a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);
}

describe('MMTM', () => {
  beforeAll(async () => {
    await initBackend({ backend: 'cpu', log: false });
  });

  for (const [label, shape0, shape1] of [
    ['NHWC images, C0 ≠ C1', [3, 4, 5], [2, 2, 3]],
    ['NDHWC video, C0 ≠ C1', [2, 3, 2, 4], [2, 2, 2, 6]],
    ['vectors', [5], [3]],
  ] as const) {
    it(`matches the hand computation for ${label}`, () => {
      const layer = new MMTM({ seed: 3 });
      const x0 = tf.randomNormal([2, ...shape0], 0, 1, 'float32', 1);
      const x1 = tf.randomNormal([2, ...shape1], 0, 1, 'float32', 2);
      const [y0, y1] = layer.apply([x0, x1]) as tf.Tensor[];
      expect(y0.shape).toEqual(x0.shape);
      expect(y1.shape).toEqual(x1.shape);
      const c0 = shape0[shape0.length - 1];
      const c1 = shape1[shape1.length - 1];
      expect(layer.hiddenUnits).toBe(Math.floor((2 * (c0 + c1)) / 4));
      const per0 = x0.size / 2;
      const per1 = x1.size / 2;
      for (let n = 0; n < 2; n++) {
        const m0 = positions(x0.dataSync().slice(n * per0, (n + 1) * per0), c0);
        const m1 = positions(x1.dataSync().slice(n * per1, (n + 1) * per1), c1);
        const [r0, r1] = referenceForward(layer, [m0, m1]);
        expect(maxAbs(Array.from(y0.dataSync().slice(n * per0, (n + 1) * per0)), r0.flat())).toBeLessThan(1e-5);
        expect(maxAbs(Array.from(y1.dataSync().slice(n * per1, (n + 1) * per1)), r1.flat())).toBeLessThan(1e-5);
      }
      tf.dispose([x0, x1, y0, y1]);
      layer.dispose();
    });
  }

  it('gateScale 1 reproduces the reference code gate σ(w)', () => {
    const a = new MMTM({ seed: 5, gateScale: 1 });
    const x0 = tf.ones([1, 2, 2, 2]);
    const x1 = tf.ones([1, 2, 2, 3]);
    const [y0] = a.apply([x0, x1]) as tf.Tensor[];
    const ref = referenceForward(a, [positions(x0.dataSync(), 2), positions(x1.dataSync(), 3)]);
    expect(maxAbs(Array.from(y0.dataSync()), ref[0].flat())).toBeLessThan(1e-6);
    expect(Math.max(...Array.from(y0.dataSync()))).toBeLessThan(1);
    tf.dispose([x0, x1, y0]);
  });

  it('cut mode replaces the other modality squeeze by its recorded training mean (Eq. 7)', () => {
    const layer = new MMTM({ seed: 7 });
    const train0 = tf.randomNormal([6, 3, 3, 2], 0, 1, 'float32', 11);
    const train1 = tf.randomNormal([6, 3, 3, 4], 0, 1, 'float32', 12);
    layer.apply([tf.zeros([1, 3, 3, 2]), tf.zeros([1, 3, 3, 4])]);
    expect(() => withFusionMode([layer], { kind: 'cut' }, () => layer.apply([train0, train1]))).toThrow(/no squeeze statistics recorded/);
    // Record in two batches: the running mean must equal the mean over all six samples.
    withFusionMode([layer], { kind: 'normal' }, () => {
      tf.dispose(layer.apply([tf.slice(train0, 0, 4), tf.slice(train1, 0, 4)]) as tf.Tensor[]);
      tf.dispose(layer.apply([tf.slice(train0, 4, 2), tf.slice(train1, 4, 2)]) as tf.Tensor[]);
    }, 'squeeze');
    expect(layer.statisticsCounts().squeeze).toBe(6);
    expect(layer.getRecording()).toBe('none');
    const h0bar = Array.from(tf.mean(train0, [0, 1, 2]).dataSync());
    const h1bar = Array.from(tf.mean(train1, [0, 1, 2]).dataSync());

    const x0 = tf.randomNormal([1, 3, 3, 2], 0, 1, 'float32', 13);
    const x1 = tf.randomNormal([1, 3, 3, 4], 0, 1, 'float32', 14);
    const [c0, c1] = withFusionMode([layer], { kind: 'cut' }, () => layer.apply([x0, x1]) as tf.Tensor[]);
    expect(layer.getFusionMode()).toEqual({ kind: 'normal' });
    const m0 = positions(x0.dataSync(), 2);
    const m1 = positions(x1.dataSync(), 4);
    const [r0] = referenceForward(layer, [m0, m1], { squeeze: [null, h1bar] });
    const [, r1] = referenceForward(layer, [m0, m1], { squeeze: [h0bar, null] });
    expect(maxAbs(Array.from(c0.dataSync()), r0.flat())).toBeLessThan(1e-5);
    expect(maxAbs(Array.from(c1.dataSync()), r1.flat())).toBeLessThan(1e-5);
    // Head 0's output no longer depends on modality 1's input.
    const other = tf.randomNormal([1, 3, 3, 4], 0, 1, 'float32', 99);
    const [c0b] = withFusionMode([layer], { kind: 'cut' }, () => layer.apply([x0, other]) as tf.Tensor[]);
    expect(maxAbs(Array.from(c0b.dataSync()), Array.from(c0.dataSync()))).toBe(0);
  });

  for (const statistic of ['excitation', 'gate'] as const) {
    it(`re-balancing modality k uses its own recorded mean only (${statistic} statistic)`, () => {
      const layer = new MMTM({ seed: 9, rebalanceStatistic: statistic });
      const x0 = tf.randomNormal([4, 2, 2, 3], 0, 1, 'float32', 21);
      const x1 = tf.randomNormal([4, 2, 2, 5], 0, 1, 'float32', 22);
      layer.apply([tf.zeros([1, 2, 2, 3]), tf.zeros([1, 2, 2, 5])]);
      // Eval passes must not feed the statistics; only passes with excitation recording do.
      tf.dispose(layer.apply([x0, x1]) as tf.Tensor[]);
      expect(layer.statisticsCounts().excitation).toBe(0);
      setFusionRecording(layer, 'excitation');
      tf.dispose(layer.apply([x0, x1]) as tf.Tensor[]);
      setFusionRecording(layer, 'none');
      expect(layer.statisticsCounts().excitation).toBe(4);

      // Expected means from the per-sample hand computation.
      const per0 = positions(x0.dataSync(), 3);
      const per1 = positions(x1.dataSync(), 5);
      const means = [3, 5].map((c) => new Array(c).fill(0));
      for (let n = 0; n < 4; n++) {
        const details = referenceDetails(layer, [per0.slice(n * 4, n * 4 + 4), per1.slice(n * 4, n * 4 + 4)]);
        const values = statistic === 'gate' ? details.gates : details.excitations;
        values.forEach((v, k) => v.forEach((x, c) => (means[k][c] += x / 4)));
      }
      const recorded = layer.weights.filter((v) => v.name.includes('excitation_mean')).map((v) => Array.from(v.read().dataSync()));
      expect(maxAbs(recorded[0], means[0])).toBeLessThan(1e-5);
      expect(maxAbs(recorded[1], means[1])).toBeLessThan(1e-5);

      setFusionMode(layer, { kind: 'rebalance', modality: 1 });
      const [r0, r1] = layer.apply([x0, x1]) as tf.Tensor[];
      setFusionMode(layer, { kind: 'normal' });
      const [n0] = layer.apply([x0, x1]) as tf.Tensor[];
      // Modality 0 untouched; modality 1 scaled by the same fixed gate for every sample.
      expect(maxAbs(Array.from(r0.dataSync()), Array.from(n0.dataSync()))).toBeLessThan(1e-6);
      const fixedGate = statistic === 'gate' ? means[1] : means[1].map((v) => layer.gateScale * sigmoid(v));
      const expected = Array.from(x1.dataSync()).map((v, i) => v * fixedGate[i % 5]);
      expect(maxAbs(Array.from(r1.dataSync()), expected)).toBeLessThan(1e-5);
      expect(() => {
        setFusionMode(layer, { kind: 'rebalance', modality: 2 });
        try {
          layer.apply([x0, x1]);
        } finally {
          setFusionMode(layer, { kind: 'normal' });
        }
      }).toThrow(/cannot re-balance modality 2/);
    });
  }

  it('refuses to re-balance before any regular step was recorded', () => {
    const layer = new MMTM();
    const x = [tf.ones([2, 3]), tf.ones([2, 4])];
    layer.apply(x);
    setFusionMode(layer, { kind: 'rebalance', modality: 0 });
    expect(() => layer.apply(x)).toThrow(/no excitation statistics recorded, cannot re-balance/);
  });

  it('fuses three modalities', () => {
    const layer = new MMTM({ seed: 1 });
    const xs = [tf.ones([2, 2, 2, 2]), tf.ones([2, 2, 2, 3]), tf.ones([2, 2, 2, 4])];
    const ys = layer.apply(xs) as tf.Tensor[];
    expect(ys.map((y) => y.shape)).toEqual(xs.map((x) => x.shape));
    expect(layer.hiddenUnits).toBe(Math.floor((2 * 9) / 4));
    expect(layer.fusionWeightNames(2)).toHaveLength(4);
  });

  it('computes and records once per model.apply although tfjs-layers applies a multi-output layer once per output; predict counts twice with the same means', () => {
    const in0 = tfl.input({ shape: [3, 3, 2] });
    const in1 = tfl.input({ shape: [3, 3, 4] });
    const layer = new MMTM({ seed: 2 });
    const model = tfl.model({ inputs: [in0, in1], outputs: layer.apply([in0, in1]) as tfl.SymbolicTensor[] });
    const x = [tf.randomNormal([5, 3, 3, 2], 0, 1, 'float32', 3), tf.randomNormal([5, 3, 3, 4], 0, 1, 'float32', 4)];
    withFusionMode(model, { kind: 'normal' }, () => tf.dispose(model.apply(x, { training: false }) as tf.Tensor[]), 'squeeze');
    expect(layer.statisticsCounts().squeeze).toBe(5);
    const viaApply = withFusionMode(model, { kind: 'cut' }, () => (model.apply(x) as tf.Tensor[]).map((t) => Array.from(t.dataSync())));
    layer.resetSqueezeStatistics();
    withFusionMode(model, { kind: 'normal' }, () => tf.dispose(model.predict(x) as tf.Tensor[]), 'squeeze');
    expect(layer.statisticsCounts().squeeze).toBe(10);
    const viaPredict = withFusionMode(model, { kind: 'cut' }, () => (model.apply(x) as tf.Tensor[]).map((t) => Array.from(t.dataSync())));
    viaPredict.forEach((v, k) => expect(maxAbs(v, viaApply[k])).toBeLessThan(1e-6));
    withFusionMode(model, { kind: 'normal' }, () => tf.dispose(model.apply(x, { training: true }) as tf.Tensor[]), 'excitation');
    expect(layer.statisticsCounts().excitation).toBe(5);
    tf.dispose(x);
    model.dispose();
  });

  it('never returns outputs of an earlier application (weights changed, gradient tape, repeated recording)', () => {
    const layer = new MMTM({ seed: 5 });
    const x = [tf.randomNormal([4, 3, 3, 2], 0, 1, 'float32', 1), tf.randomNormal([4, 3, 3, 3], 0, 1, 'float32', 2)];
    // (1) New weights, same inputs, same tick: new outputs.
    const first = (layer.apply(x) as tf.Tensor[]).map((t) => Array.from(t.dataSync()));
    tf.tidy(() => layer.setWeights(layer.getWeights().map((w, i) => (i < 6 ? tf.mul(w, 3) : w))));
    const second = (layer.apply(x) as tf.Tensor[]).map((t) => Array.from(t.dataSync()));
    expect(maxAbs(first[0], second[0])).toBeGreaterThan(1e-4);
    // (2) An eager pass kept alive, then gradients over the same inputs: connected.
    const kept = layer.apply(x) as tf.Tensor[];
    const weights = layer.trainableWeights.map((w) => w.read() as tf.Variable);
    const { grads } = tf.variableGrads(() => tf.sum(tf.addN((layer.apply(x) as tf.Tensor[]).map((t) => tf.sum(t)))) as tf.Scalar, weights);
    expect(Object.keys(grads)).toHaveLength(weights.length);
    // (3) Two recording passes over the same batch count it twice.
    setFusionRecording(layer, 'squeeze');
    tf.dispose(layer.apply(x) as tf.Tensor[]);
    tf.dispose(layer.apply(x) as tf.Tensor[]);
    setFusionRecording(layer, 'none');
    expect(layer.statisticsCounts().squeeze).toBe(8);
    tf.dispose([...x, ...kept, ...Object.values(grads)]);
  });

  describe('serialization', () => {
    it('survives save/load inside a LayersModel, config and recorded statistics included', async () => {
      const in0 = tfl.input({ shape: [4, 4, 2] });
      const in1 = tfl.input({ shape: [4, 4, 3] });
      const fused = new MMTM({ name: 'mmtm_test', ratio: 2, gateScale: 1.5, rebalanceStatistic: 'gate' }).apply([in0, in1]) as tfl.SymbolicTensor[];
      const model = tfl.model({ inputs: [in0, in1], outputs: fused });
      const x = [tf.randomNormal([3, 4, 4, 2], 0, 1, 'float32', 1), tf.randomNormal([3, 4, 4, 3], 0, 1, 'float32', 2)];
      withFusionMode(model, { kind: 'normal' }, () => model.apply(x), 'squeeze');
      withFusionMode(model, { kind: 'normal' }, () => model.apply(x), 'excitation');
      const before = withFusionMode(model, { kind: 'cut' }, () => (model.predict(x) as tf.Tensor[]).map((t) => Array.from(t.dataSync())));
      const rebalanced = withFusionMode(model, { kind: 'rebalance', modality: 0 }, () =>
        (model.predict(x) as tf.Tensor[]).map((t) => Array.from(t.dataSync())),
      );
      let artifacts: tf.io.ModelArtifacts | undefined;
      await model.save(
        tf.io.withSaveHandler(async (a) => {
          artifacts = a;
          return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
        }),
      );
      const loaded = await tfl.loadLayersModel(tf.io.fromMemory(artifacts!));
      const [layer] = fusionLayersOf(loaded) as MMTM[];
      expect(layer).toBeInstanceOf(MMTM);
      expect([layer.name, layer.ratio, layer.gateScale, layer.rebalanceStatistic]).toEqual(['mmtm_test', 2, 1.5, 'gate']);
      expect(layer.statisticsCounts()).toEqual({ squeeze: 3, excitation: 3 });
      const afterCut = withFusionMode(loaded, { kind: 'cut' }, () => (loaded.predict(x) as tf.Tensor[]).map((t) => Array.from(t.dataSync())));
      const afterRebalance = withFusionMode(loaded, { kind: 'rebalance', modality: 0 }, () =>
        (loaded.predict(x) as tf.Tensor[]).map((t) => Array.from(t.dataSync())),
      );
      afterCut.forEach((v, k) => expect(maxAbs(v, before[k])).toBeLessThan(1e-6));
      afterRebalance.forEach((v, k) => expect(maxAbs(v, rebalanced[k])).toBeLessThan(1e-6));
    });
  });
});
