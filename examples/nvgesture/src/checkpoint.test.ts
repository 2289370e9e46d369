import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import '@tensorflow/tfjs-backend-cpu';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadCheckpoint, restoreOptimizer, saveCheckpoint } from './checkpoint.js';

describe('NVGesture checkpoints', () => {
  const root = mkdtempSync(join(tmpdir(), 'nvg-ckpt-'));
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('restore the momentum slots so a resumed step equals the uninterrupted one', async () => {
    const input = tfl.input({ shape: [3] });
    const model = tfl.model({ inputs: input, outputs: tfl.layers.dense({ units: 2, name: 'd', kernelInitializer: 'ones' }).apply(input) as tfl.SymbolicTensor });
    const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
    const x = tf.tensor2d([[1, 2, 3], [0, -1, 2]]);
    const loss = () => tf.sum(tf.square(model.apply(x) as tf.Tensor)) as tf.Scalar;
    const optimizer = tf.train.momentum(0.01, 0.9);
    optimizer.minimize(loss, false, vars);
    await saveCheckpoint(root, model, optimizer, { epoch: 1 });
    const slots = (await optimizer.getWeights()).slice(1).map((w) => Array.from(w.tensor.dataSync()));

    const resumed = tf.train.momentum(0.01, 0.9);
    const checkpoint = loadCheckpoint<{ epoch: number }>(root)!;
    expect(checkpoint.state.epoch).toBe(1);
    await restoreOptimizer(resumed, checkpoint.optimizer!, 'optimizer.safetensors');
    expect((await resumed.getWeights()).slice(1).map((w) => Array.from(w.tensor.dataSync()))).toEqual(slots);
    expect(readFileSync(join(root, 'checkpoint', 'weights.safetensors')).length).toBeGreaterThan(0);
  });
});
