import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '@mm/backend';
import { buildColoredGrayMnist } from '@mm/datasets/colored-mnist';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultSettings, type ExperimentSettings } from './config.js';
import { paperRunSpec } from './paper.js';
import { trainOne, type RunResult } from './train-one.js';

const settings: ExperimentSettings = {
  ...defaultSettings(),
  trainSize: 192,
  testSize: 200,
  validationFraction: 0.05,
  batchSize: 32,
  epochs: 3,
  trainAccuracySamples: 64,
  widths: [4, 4, 8, 8],
  alpha: 0.01,
  windowSize: 2,
};

describe('colored-mnist: one (method, seed) run', () => {
  let dir: string;
  let data: ReturnType<typeof buildColoredGrayMnist>;
  beforeAll(async () => {
    await initBackend({ backend: 'wasm', log: false });
    dir = mkdtempSync(join(tmpdir(), 'cgm-run-'));
    data = buildColoredGrayMnist({ trainSize: settings.trainSize, testSize: settings.testSize, validationFraction: settings.validationFraction, seed: 1 });
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('resumes a run killed after an epoch checkpoint to the same result as an uninterrupted run', async () => {
    const before = tf.memory().numTensors;
    const straight = await trainOne(paperRunSpec('guided', 1, settings), { data, settings, dir: join(dir, 'straight') });
    expect(tf.memory().numTensors).toBe(before);

    // Crash right after the first epoch's checkpoint was written.
    const crash = new Error('simulated crash');
    await expect(
      trainOne(paperRunSpec('guided', 1, settings), {
        data,
        settings,
        dir: join(dir, 'killed'),
        onEpoch: (log) => {
          if (log.epoch === 0) throw crash;
        },
      }),
    ).rejects.toBe(crash);
    const resumed: RunResult = await trainOne(paperRunSpec('guided', 1, settings), { data, settings, dir: join(dir, 'killed') });

    expect(resumed.steps.map((s) => s.metrics.rebalance)).toEqual(straight.steps.map((s) => s.metrics.rebalance));
    expect(resumed.steps.some((s) => s.metrics.rebalance !== null)).toBe(true);
    resumed.steps.forEach((s, i) => expect(s.loss).toBeCloseTo(straight.steps[i].loss, 5));
    expect(resumed.testAccuracy).toBe(straight.testAccuracy);
    expect(resumed.testHeadAccuracy).toEqual(straight.testHeadAccuracy);
    expect(resumed.dUtil).toBeCloseTo(straight.dUtil!, 6);
    expect(resumed.bestEpoch).toBe(straight.bestEpoch);
    // A finished run is read back, not retrained.
    expect((await trainOne(paperRunSpec('guided', 1, settings), { data, settings, dir: join(dir, 'killed') })).seconds).toBe(resumed.seconds);
  });

  it('trains a uni-modal baseline without fusion bookkeeping', async () => {
    const r = await trainOne(paperRunSpec('unimodal-gray', 2, { ...settings, epochs: 1 }), { data, settings: { ...settings, epochs: 1 }, dir: join(dir, 'uni') });
    expect(r.testHeadAccuracy).toHaveLength(1);
    expect(r.dUtil).toBeUndefined();
    expect(r.steps.every((s) => s.metrics.rebalance === undefined && s.metrics.dSpeed === undefined)).toBe(true);
  });
});
