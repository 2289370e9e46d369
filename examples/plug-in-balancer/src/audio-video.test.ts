import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '@mm/backend';
import { resolveParameterGroups } from '@mm/balance';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildUserModel, GROUPS, runDemo } from './audio-video.js';
import { runLateFusion } from './late-fusion.js';

describe('plugging the balancer into a user-built model', () => {
  beforeAll(async () => {
    await initBackend({ backend: 'wasm', log: false });
  });

  it('groups every trainable weight of the user model from declared prefixes', () => {
    const model = buildUserModel(4);
    const g = resolveParameterGroups(model, GROUPS);
    expect(g.branch[0].every((v) => v.name.startsWith('vision_'))).toBe(true);
    expect(g.branch[1].every((v) => v.name.startsWith('audio_'))).toBe(true);
    expect(g.fusion[0].every((v) => v.name.startsWith('fusion/'))).toBe(true);
    model.dispose();
  });

  it('trains with guided re-balancing, measures utilization and frees its tensors', async () => {
    const before = tf.memory().numTensors;
    const r = await runDemo(40);
    expect(tf.memory().numTensors).toBe(before);
    expect(r.kinds.slice(0, 10).every((k) => k === 'R')).toBe(true);
    expect(r.kinds.some((k) => k !== 'R')).toBe(true);
    expect(r.losses[r.losses.length - 1]).toBeLessThan(r.losses[0]);
    expect(r.utilization.headAccuracy).toHaveLength(2);
    expect(Number.isFinite(r.utilization.dUtil)).toBe(true);
  });

  it('balances a plain concatenate model with OGM-GE, no declaration needed', async () => {
    const before = tf.memory().numTensors;
    const r = await runLateFusion(40);
    expect(tf.memory().numTensors).toBe(before);
    expect(r.losses[r.losses.length - 1]).toBeLessThan(r.losses[0]);
    // The signal modality leads on this task, so OGM-GE slows it (k < 1) on most steps.
    const slowed = r.metrics.filter((m) => (m.k0 as number) < 1 || (m.k1 as number) < 1).length;
    expect(slowed).toBeGreaterThan(20);
    expect(r.modalityAccuracy).toHaveLength(2);
  });
});
