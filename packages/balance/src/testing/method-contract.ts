import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import type { BatchSource, LabeledBatch } from '@mm/metrics';
import { expect } from 'vitest';
import { BalancedTrainer, type TrainerCheckpoint } from '../balanced-trainer.js';
import type { Balancer } from '../balancer.js';
import { disposeBatch, tinyBatch, weightValues } from './fixtures.js';

export interface ContractSetup {
  model: () => tfl.LayersModel;
  balancer: () => Balancer;
  optimizer?: () => tf.Optimizer;
  modalities?: number;
  /** Steps per epoch; the contract calls startEpoch with training and held-out batches at each epoch start. */
  stepsPerEpoch?: number;
}

function batchesFrom(first: number, count: number, modalities: number): () => BatchSource {
  return () => Array.from({ length: count }, (_, i) => tinyBatch(first + i, 8, modalities));
}

/** Runs `steps` steps from `from`, calling startEpoch at epoch boundaries as an app would. */
async function run(trainer: BalancedTrainer, from: number, steps: number, setup: ContractSetup, onStep?: (loss: number) => void): Promise<void> {
  const m = setup.modalities ?? 2;
  const perEpoch = setup.stepsPerEpoch ?? 5;
  for (let s = from; s < from + steps; s++) {
    if (s % perEpoch === 0) {
      await trainer.startEpoch({ epoch: s / perEpoch, stepsPerEpoch: perEpoch, train: batchesFrom(1000, 2, m), validation: batchesFrom(2000, 2, m) });
    }
    const b: LabeledBatch = tinyBatch(s, 8, m);
    const r = trainer.step(b);
    disposeBatch(b);
    expect(Number.isFinite(r.loss)).toBe(true);
    onStep?.(r.loss);
  }
}

/** What every method must do: no tensor growth over 50 steps, and a checkpoint that continues identically. */
export async function checkMethodContract(setup: ContractSetup): Promise<void> {
  const make = () => {
    const model = setup.model();
    return new BalancedTrainer({ model, optimizer: setup.optimizer?.() ?? tf.train.momentum(0.02, 0.9), balancer: setup.balancer(), seed: 3 });
  };

  // 50 steps after the first (which creates the optimizer's slots): numTensors must not grow.
  const long = make();
  await run(long, 0, 5, setup);
  const before = tf.memory().numTensors;
  await run(long, 5, 50, setup);
  expect(tf.memory().numTensors).toBe(before);
  long.dispose();
  long.model.dispose();

  // A checkpoint after 7 steps, restored into a fresh trainer, continues as the uninterrupted run.
  const straight = make();
  await run(straight, 0, 7, setup);
  const checkpoint: TrainerCheckpoint = JSON.parse(JSON.stringify(await straight.checkpoint(), (_, v) => (ArrayBuffer.isView(v) ? Array.from(v as Float32Array) : v)));
  for (const t of Object.values(checkpoint.tensors)) t.data = t.dtype === 'int32' ? Int32Array.from(t.data) : Float32Array.from(t.data);
  const expected: number[] = [];
  await run(straight, 7, 6, setup, (l) => expected.push(l));
  const a = weightValues(straight.model);
  // Both trainers alive at once, as a user comparing runs would have them.
  const resumed = make();
  await resumed.restore(checkpoint);
  const got: number[] = [];
  await run(resumed, 7, 6, setup, (l) => got.push(l));
  got.forEach((l, i) => expect(l).toBeCloseTo(expected[i], 5));
  const b = weightValues(resumed.model);
  a.forEach((w, i) => w.forEach((v, j) => expect(b[i][j]).toBeCloseTo(v, 5)));
  for (const t of [straight, resumed]) {
    t.dispose();
    t.model.dispose();
  }
}
