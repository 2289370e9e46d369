import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { initBackend } from '@mm/backend';
import { beforeAll, describe, expect, it } from 'vitest';
import { BalancedTrainer } from './balanced-trainer.js';
import { ModelView } from './fusion/model-view.js';
import { METHODS } from './methods/index.js';
import { teacherFromModel, Umt } from './methods/umt.js';
import { unmetRequirements } from './requirements.js';
import { disposeBatch, tinyBatch, tinyLateModel, tinyMmtmModel, tinySharedHeadModel } from './testing/fixtures.js';

beforeAll(async () => {
  await initBackend({ backend: 'wasm', log: false });
});

function teacher(k: number): tfl.LayersModel {
  const x = tfl.input({ shape: [6, 6, k + 1] });
  const conv = tfl.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same', kernelInitializer: tfl.initializers.glorotUniform({ seed: 3 + k }) }).apply(x) as tfl.SymbolicTensor;
  const pool = tfl.layers.globalAveragePooling2d({ name: `t${k}_pool` }).apply(conv) as tfl.SymbolicTensor;
  return tfl.model({ inputs: x, outputs: pool });
}

describe('trainer.dispose', () => {
  it.each(METHODS.map((m) => m.name))('%s: frees every tensor the trainer and its method made (auxiliary heads included)', async (name) => {
    const entry = METHODS.find((m) => m.name === name)!;
    const teachers = name === 'umt' ? [teacher(0), teacher(1)] : [];
    const balancer = name === 'umt' ? new Umt({ teachers: teachers.map((t, k) => teacherFromModel(t, `t${k}_pool`)) }) : entry.create({ stepsPerEpoch: 2, numModalities: 2, seed: 1 });
    let model: tfl.LayersModel | undefined;
    for (const make of [tinyLateModel, tinySharedHeadModel, tinyMmtmModel]) {
      const candidate = make(4);
      if (unmetRequirements(balancer.requirements, new ModelView(candidate)).length === 0) {
        model = candidate;
        break;
      }
      candidate.dispose();
    }
    const before = tf.memory().numTensors;
    const trainer = new BalancedTrainer({ model: model!, optimizer: tf.train.momentum(0.02, 0.9), balancer, warn: () => {} });
    await trainer.startEpoch({ epoch: 0, stepsPerEpoch: 2, train: () => [tinyBatch(100), tinyBatch(101)], validation: () => [tinyBatch(200)] });
    for (let s = 0; s < 2; s++) {
      const b = tinyBatch(s);
      trainer.step(b);
      disposeBatch(b);
    }
    trainer.dispose();
    expect(tf.memory().numTensors).toBe(before);
    teachers.forEach((t) => t.dispose());
    model!.dispose();
  });
});
