import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-layers';
import { Greedy } from '@mm/balance';
import { initBackend } from '@mm/backend';
import { beforeAll, describe, expect, it } from 'vitest';
import { createModelStepRunner, MODEL_BENCHES, MODEL_NAMES, uniformBatch } from './model-steps.js';

describe('the large models stepped through BalancedTrainer.step', () => {
  beforeAll(async () => {
    await initBackend({ backend: 'wasm', log: false });
  });

  it('builds a seeded batch of the per-modality shapes with one-hot labels', () => {
    const batch = uniformBatch(MODEL_BENCHES.i3d.inputShapes, 25, 3);
    expect(batch.inputs.map((x) => x.shape)).toEqual([
      [3, 8, 64, 64, 3],
      [3, 8, 64, 64, 1],
    ]);
    expect(batch.labels.shape).toEqual([3, 25]);
    expect(Array.from(tf.tidy(() => tf.sum(batch.labels, 1)).dataSync())).toEqual([1, 1, 1]);
    tf.dispose([...batch.inputs, batch.labels]);
  });

  for (const name of MODEL_NAMES) {
    it(`${name}: vanilla steps with the learning-speed bookkeeping, finite losses, no tensor growth`, () => {
      const runner = createModelStepRunner(name, 1);
      runner.step(); // creates the optimizer's slots (momentum for i3d)
      const before = tf.memory().numTensors;
      const losses = [runner.step(), runner.step()];
      expect(tf.memory().numTensors).toBe(before);
      for (const loss of losses) expect(Number.isFinite(loss)).toBe(true);
      expect(runner.trainer.steps).toBe(3);
      expect(runner.trainer.balancer).toBeInstanceOf(Greedy);
      expect((runner.trainer.balancer as Greedy).speed?.accumulatedSteps).toBe(3);
      runner.dispose();
    }, 300_000);
  }
});
