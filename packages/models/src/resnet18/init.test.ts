import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { weightStatistics, weightValues } from '../testing/weights.js';
import { resnet18 } from './resnet18.js';

/**
 * A fresh ResNet18 must start from torchvision 0.14's distributions, checked against the
 * formulas (not against another tfjs initialiser):
 * - convolutions: kaiming_normal_(mode='fan_out', nonlinearity='relu'), an untruncated normal,
 *   std = √2/√fan_out with fan_out = out_channels·k·k;
 * - BatchNorm: weight 1, bias 0 (running mean 0, var 1);
 * - fc: nn.Linear's default, weight and bias uniform in ±1/√fan_in.
 * The model is seeded, so the numbers below are the same on every run.
 */

// Normal: P(|w| > 2σ) = 4.55 %; a ±2σ-truncated normal has none.
const NORMAL_BEYOND_TWO_SIGMA = 0.0455;
// Layers this large pin the tail fraction to ±0.07 pp (one binomial standard deviation).
const LARGE_LAYER = 100_000;

let conv: { name: string; count: number; stdRatio: number; meanInSigmas: number; beyond2: number; maxInSigmas: number }[];
let weights: Map<string, Float32Array>;
let shapes: Map<string, number[]>;

beforeAll(async () => {
  await tf.setBackend('cpu');
  const model = resnet18({ numClasses: 1000, imageSize: 32, seed: 11 });
  weights = weightValues(model);
  shapes = new Map(model.weights.map((w) => [w.originalName, w.shape as number[]]));
  model.dispose();
  conv = [...weights]
    .filter(([name]) => /(conv\d|downsample_0)\/kernel$/.test(name))
    .map(([name, values]) => {
      const [kh, kw, , out] = shapes.get(name) as number[];
      const sigma = Math.SQRT2 / Math.sqrt(out * kh * kw);
      const s = weightStatistics(values);
      return { name, count: s.count, stdRatio: s.std / sigma, meanInSigmas: s.mean / sigma, beyond2: s.fractionBeyond(2 * sigma), maxInSigmas: s.maxAbs / sigma };
    });
});

afterAll(() => {
  expect(tf.memory().numTensors).toBe(0);
});

describe('ResNet18 initialisation equals torchvision 0.14', () => {
  it('every convolution is an untruncated kaiming normal (fan_out, relu): std within 5 %, mean ≈ 0, tails beyond 2σ', () => {
    // conv1, 8 convs per stage ×4 … : torchvision's 20 convolutions (17 3×3/7×7 + 3 downsample).
    expect(conv).toHaveLength(20);
    const ratios = conv.map((c) => c.stdRatio);
    const large = conv.filter((c) => c.count >= LARGE_LAYER);
    console.log(
      `resnet18 conv kernels: std / (√2/√fan_out) in [${Math.min(...ratios).toFixed(4)}, ${Math.max(...ratios).toFixed(4)}] over ${conv.length} layers; ` +
        `P(|w| > 2σ) in [${Math.min(...large.map((c) => c.beyond2)).toFixed(4)}, ${Math.max(...large.map((c) => c.beyond2)).toFixed(4)}] over the ${large.length} layers with ≥ ${LARGE_LAYER} weights (normal: ${NORMAL_BEYOND_TWO_SIGMA}); ` +
        `largest |w| ${Math.max(...conv.map((c) => c.maxInSigmas)).toFixed(2)}σ`,
    );
    for (const c of conv) {
      expect(Math.abs(c.stdRatio - 1), `${c.name}: std ratio ${c.stdRatio}`).toBeLessThan(0.05);
      expect(Math.abs(c.meanInSigmas), `${c.name}: mean ${c.meanInSigmas}σ`).toBeLessThan(0.05);
      expect(c.beyond2, `${c.name}: no weight beyond 2σ (a truncated normal?)`).toBeGreaterThan(0);
    }
    expect(large.length).toBeGreaterThanOrEqual(10);
    for (const c of large) {
      expect(Math.abs(c.stdRatio - 1), `${c.name}: std ratio ${c.stdRatio}`).toBeLessThan(0.01);
      expect(Math.abs(c.beyond2 - NORMAL_BEYOND_TWO_SIGMA), `${c.name}: P(|w| > 2σ) = ${c.beyond2}`).toBeLessThan(0.003);
      expect(c.maxInSigmas, `${c.name}: largest |w|`).toBeGreaterThan(3.5);
    }
  });

  it('BatchNorm starts at weight 1, bias 0, running mean 0, running var 1', () => {
    const expected: Record<string, number> = { gamma: 1, beta: 0, moving_mean: 0, moving_variance: 1 };
    const bn = [...weights].filter(([name]) => /\/(gamma|beta|moving_mean|moving_variance)$/.test(name));
    expect(bn).toHaveLength(20 * 4);
    for (const [name, values] of bn) {
      const value = expected[name.split('/')[1]];
      expect(values.every((v) => v === value), name).toBe(true);
    }
  });

  it("fc is nn.Linear's default: weight and bias uniform in ±1/√512", () => {
    const bound = 1 / Math.sqrt(512);
    expect(shapes.get('fc/kernel')).toEqual([512, 1000]);
    for (const name of ['fc/kernel', 'fc/bias']) {
      const s = weightStatistics(weights.get(name) as Float32Array);
      console.log(`resnet18 ${name}: std / (bound/√3) = ${(s.std / (bound / Math.sqrt(3))).toFixed(4)}, max |w| / bound = ${(s.maxAbs / bound).toFixed(4)}`);
      expect(s.maxAbs).toBeLessThanOrEqual(bound);
      expect(s.maxAbs).toBeGreaterThan(0.99 * bound);
      expect(Math.abs(s.std / (bound / Math.sqrt(3)) - 1)).toBeLessThan(0.05);
      expect(Math.abs(s.mean) / bound).toBeLessThan(0.05);
    }
  });
});
