import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { weightStatistics, weightValues } from '../testing/weights.js';
import { i3d } from './i3d.js';

/**
 * A fresh I3D must start from the PyTorch port's distributions. The port (piergiaj/pytorch-i3d)
 * sets no initialisation of its own, so every layer has PyTorch 1.13's defaults, checked here
 * against the formulas:
 * - nn.Conv3d: kaiming_uniform_(a=√5) → weight uniform in ±1/√fan_in (fan_in = in·kt·kh·kw),
 *   i.e. std 1/√(3·fan_in); the logits' bias uniform in ±1/√fan_in as well;
 * - nn.BatchNorm3d: weight 1, bias 0, running mean 0, running var 1.
 */

let model: ReturnType<typeof i3d>;
let weights: Map<string, Float32Array>;
let shapes: Map<string, number[]>;

beforeAll(async () => {
  await tf.setBackend('cpu');
  model = i3d({ numClasses: 400, frames: 8, imageSize: 64, seed: 5 });
  weights = weightValues(model);
  shapes = new Map(model.weights.map((w) => [w.originalName, w.shape as number[]]));
  model.dispose();
});

afterAll(() => {
  expect(tf.memory().numTensors).toBe(0);
});

describe('I3D initialisation equals the PyTorch port (PyTorch defaults)', () => {
  it('every Conv3d kernel is uniform in ±1/√fan_in: std within 5 %, mean ≈ 0, reaching the bound', () => {
    const kernels = [...weights].filter(([name]) => name.endsWith('_conv3d/kernel'));
    // 3 stem units + 9 inception modules × 6 units + the logits.
    expect(kernels).toHaveLength(3 + 9 * 6 + 1);
    const ratios: number[] = [];
    for (const [name, values] of kernels) {
      const [kt, kh, kw, cin] = shapes.get(name) as number[];
      const bound = 1 / Math.sqrt(cin * kt * kh * kw);
      const s = weightStatistics(values);
      const stdRatio = s.std / (bound / Math.sqrt(3));
      ratios.push(stdRatio);
      expect(Math.abs(stdRatio - 1), `${name}: std ratio ${stdRatio}`).toBeLessThan(0.05);
      expect(Math.abs(s.mean) / bound, `${name}: mean ${s.mean}`).toBeLessThan(0.05);
      expect(s.maxAbs, `${name}: beyond the bound`).toBeLessThanOrEqual(bound);
      // The smallest kernel (Mixed_3b_b2a, 3,072 weights) almost surely reaches 0.99 of the bound.
      expect(s.maxAbs / bound, `${name}: largest |w|`).toBeGreaterThan(0.99);
    }
    console.log(`i3d conv3d kernels: std / (1/√(3·fan_in)) in [${Math.min(...ratios).toFixed(4)}, ${Math.max(...ratios).toFixed(4)}] over ${kernels.length} layers`);
  });

  it('the logits bias is uniform in ±1/√1024; BatchNorm starts at 1, 0, 0, 1', () => {
    const bound = 1 / Math.sqrt(1024);
    const bias = weightStatistics(weights.get('logits_conv3d/bias') as Float32Array);
    expect(bias.count).toBe(400);
    expect(bias.maxAbs).toBeLessThanOrEqual(bound);
    expect(bias.maxAbs).toBeGreaterThan(0.97 * bound);
    expect(Math.abs(bias.std / (bound / Math.sqrt(3)) - 1)).toBeLessThan(0.1);

    const expected: Record<string, number> = { gamma: 1, beta: 0, moving_mean: 0, moving_variance: 1 };
    const bn = [...weights].filter(([name]) => /\/(gamma|beta|moving_mean|moving_variance)$/.test(name));
    expect(bn).toHaveLength((3 + 9 * 6) * 4);
    for (const [name, values] of bn) {
      expect(values.every((v) => v === expected[name.split('/')[1]]), name).toBe(true);
    }
  });
});
