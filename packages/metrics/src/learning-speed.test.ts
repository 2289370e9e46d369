import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { beforeAll, describe, expect, it } from 'vitest';
import { groupSquaredNorms, LearningSpeedTracker } from './learning-speed.js';

describe('conditional learning speed', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });

  it('sums squared norms per group in one vector', () => {
    const a = tf.tensor1d([1, 2]);
    const b = tf.tensor2d([[3], [4]]);
    const out = groupSquaredNorms([[a, b], [b], []]);
    expect(Array.from(out.dataSync())).toEqual([1 + 4 + 9 + 16, 25, 0]);
    tf.dispose([a, b, out]);
  });

  it('computes s and d_speed as the log-ratio of accumulated μ (hand computation, log10 and ln)', () => {
    const t = new LearningSpeedTracker({ numModalities: 2 });
    expect(t.speeds()).toEqual([null, null]);
    expect(t.dSpeed()).toBeNull();
    t.accumulate({ branch: [0.1, 0.2], fusion: [0.3, 0.1] });
    t.accumulate({ branch: [0.1, 0.2], fusion: [0.5, 0.3] });
    // s(m1|m0) = log10(0.8 / 0.2), s(m0|m1) = log10(0.4 / 0.4)
    const [s0, s1] = t.speeds() as number[];
    expect(s0).toBeCloseTo(Math.log10(4), 12);
    expect(s1).toBeCloseTo(0, 12);
    expect(t.imbalance()).toEqual({ dSpeed: s0 - s1, accelerate: 0 });
    const ln = LearningSpeedTracker.fromJSON({ ...t.toJSON(), logBase: Math.E });
    expect(ln.dSpeed()).toBeCloseTo(Math.log(4), 12);
    expect(ln.accumulatedSteps).toBe(2);
  });

  it('accelerates m1 when d_speed is negative', () => {
    const t = new LearningSpeedTracker({ numModalities: 2 });
    t.accumulate({ branch: [1, 1], fusion: [1, 2] });
    const imbalance = t.imbalance()!;
    expect(imbalance.accelerate).toBe(1);
    expect(imbalance.dSpeed).toBeCloseTo(-Math.log10(2), 12);
  });

  it('with three modalities, compares the two most different speeds and accelerates the largest', () => {
    const t = new LearningSpeedTracker({ numModalities: 3, logBase: 2 });
    t.accumulate({ branch: [1, 1, 1], fusion: [2, 8, 0.5] });
    const speeds = t.speeds() as number[];
    [1, 3, -1].forEach((v, k) => expect(speeds[k]).toBeCloseTo(v, 12));
    expect(t.imbalance()!.accelerate).toBe(1);
    expect(t.imbalance()!.dSpeed).toBeCloseTo(4, 12);
  });

  it('rejects NaN and malformed updates, and restores state exactly', () => {
    const t = new LearningSpeedTracker({ numModalities: 2 });
    expect(() => t.accumulate({ branch: [Number.NaN, 1], fusion: [1, 1] })).toThrow(/finite/);
    expect(() => t.accumulate({ branch: [1], fusion: [1, 1] })).toThrow(/2 modalities/);
    expect(() => new LearningSpeedTracker({ numModalities: 1 })).toThrow(/at least two/);
    t.accumulate({ branch: [0.25, 0.5], fusion: [0.125, 1] });
    expect(LearningSpeedTracker.fromJSON(JSON.parse(JSON.stringify(t.toJSON()))).toJSON()).toEqual(t.toJSON());
  });
});
