import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-layers';
import { initBackend } from '@mm/backend';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildNetwork, CLASSES, FUSED_BLOCKS, INPUT_CHANNELS, MMTM_RATIO, parameterGroups, WIDTHS } from './network.js';
import { createStepRunner, MODES } from './step.js';

/** Trainable parameters of torch_twin.py's Net, from its definition (conv+BN per block, heads, MMTMs). */
function torchTwinParameterCount(fused: boolean): number {
  let count = 0;
  for (const inChannels of INPUT_CHANNELS) {
    let cin: number = inChannels;
    for (const width of WIDTHS) {
      count += 9 * cin * width + width + 2 * width;
      cin = width;
    }
    count += cin * CLASSES + CLASSES;
  }
  if (fused) {
    for (const block of FUSED_BLOCKS) {
      const c = WIDTHS[block - 1];
      const hidden = Math.floor((2 * (c + c)) / MMTM_RATIO);
      count += (2 * c + 1) * hidden + 2 * (hidden + 1) * c;
    }
  }
  return count;
}

const trainableCount = (model: ReturnType<typeof buildNetwork>) =>
  model.trainableWeights.reduce((sum, w) => sum + w.shape.reduce((a: number, b) => a * (b ?? 1), 1), 0);

describe('bench:step network and step', () => {
  beforeAll(async () => {
    await initBackend({ backend: 'wasm', log: false });
  });

  it('has exactly the trainable parameters of the PyTorch twin, fused and unfused', () => {
    for (const fused of [true, false]) {
      const model = buildNetwork(fused);
      expect(trainableCount(model)).toBe(torchTwinParameterCount(fused));
      model.dispose();
    }
  });

  it('puts every trainable variable in a group; the shared squeeze in both fusion groups', () => {
    const model = buildNetwork(true);
    const groups = parameterGroups(model);
    const branch = new Set([...groups.theta0, ...groups.theta1].map((v) => v.name));
    const fusion = new Set([...groups.fusion0, ...groups.fusion1].map((v) => v.name));
    const all = model.trainableWeights.map((w) => (w.read() as tf.Variable).name);
    for (const name of all) expect(branch.has(name) !== fusion.has(name)).toBe(true);
    const shared = groups.fusion0.filter((v) => groups.fusion1.includes(v));
    expect(shared.length).toBe(2 * FUSED_BLOCKS.length);
    model.dispose();
  });

  for (const mode of MODES) {
    it(`runs ${mode} steps with a finite loss and no tensor growth`, () => {
      const runner = createStepRunner(mode, 4);
      runner.step();
      const before = tf.memory().numTensors;
      const losses = [runner.step(), runner.step()];
      expect(tf.memory().numTensors).toBe(before);
      for (const loss of losses) expect(Number.isFinite(loss)).toBe(true);
      const terms = Object.values(runner.lastSpeedTerms());
      const bookkeeping = mode === 'vanilla' || mode === 'rebalance';
      expect(terms.length).toBe(bookkeeping ? 4 : 0);
      for (const term of terms) expect(term).toBeGreaterThan(0);
      runner.dispose();
    });
  }
});
