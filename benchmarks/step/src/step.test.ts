import * as tf from '@tensorflow/tfjs-core';
import { Greedy, REGULAR } from '@mm/balance';
import '@tensorflow/tfjs-layers';
import { initBackend } from '@mm/backend';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildNetwork, CLASSES, FUSED_BLOCKS, INPUT_CHANNELS, MMTM_RATIO, WIDTHS, type Widths } from './network.js';
import { AlwaysRebalanceScheduler, createStepRunner, MODE_DESCRIPTIONS, MODES } from './step.js';

/** Trainable parameters of torch/torch_twin.py's Net, from its definition (conv+BN per block, heads, MMTMs). */
function torchTwinParameterCount(fused: boolean, widths: Widths = WIDTHS): number {
  let count = 0;
  for (const inChannels of INPUT_CHANNELS) {
    let cin: number = inChannels;
    for (const width of widths) {
      count += 9 * cin * width + width + 2 * width;
      cin = width;
    }
    count += cin * CLASSES + CLASSES;
  }
  if (fused) {
    for (const block of FUSED_BLOCKS) {
      const c = widths[block - 1];
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

  it('builds and steps the reduced widths of colored-mnist (8/16/32/64) with the twin\'s parameters, no tensor growth', () => {
    const reduced: Widths = [8, 16, 32, 64];
    const runner = createStepRunner('vanilla', 4, reduced);
    expect(runner.parameterCount).toBe(torchTwinParameterCount(true, reduced));
    expect(runner.parameterCount).toBeLessThan(torchTwinParameterCount(true));
    runner.step();
    const before = tf.memory().numTensors;
    expect(Number.isFinite(runner.step())).toBe(true);
    expect(tf.memory().numTensors).toBe(before);
    runner.dispose();
  });

  it('re-balances modality 0 at every step after the first, regular one', () => {
    const scheduler = new AlwaysRebalanceScheduler(0);
    expect(scheduler.next()).toEqual(REGULAR);
    scheduler.afterStep(REGULAR);
    for (let i = 0; i < 3; i++) {
      const kind = scheduler.next();
      expect(kind).toEqual({ type: 'rebalance', modality: 0 });
      scheduler.afterStep(kind);
    }
  });

  for (const mode of MODES) {
    it(`times ${MODE_DESCRIPTIONS[mode].timed} in ${mode} mode: finite losses, no tensor growth`, () => {
      const runner = createStepRunner(mode, 4);
      runner.step(); // creates the optimizer's momentum slots
      const before = tf.memory().numTensors;
      const losses = [runner.step(), runner.step()];
      expect(tf.memory().numTensors).toBe(before);
      for (const loss of losses) expect(Number.isFinite(loss)).toBe(true);
      expect(runner.parameterCount).toBe(torchTwinParameterCount(mode !== 'unimodal'));

      const trainer = runner.trainer;
      if (mode === 'plain') expect(trainer).toBeUndefined();
      else expect(trainer?.steps).toBe(mode === 'rebalance' ? 4 : 3);
      // Learning speed is measured on regular steps only: every vanilla step, and only the
      // re-balancing runner's first step (the one that records the excitation means).
      const speed = trainer?.balancer instanceof Greedy ? trainer.balancer.speed : undefined;
      if (mode === 'vanilla') expect(speed?.accumulatedSteps).toBe(3);
      if (mode === 'rebalance') expect(speed?.accumulatedSteps).toBe(1);
      if (mode === 'unimodal') expect(trainer?.balancer.name).toBe('vanilla');
      runner.dispose();
    });
  }
});
