import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import '@tensorflow/tfjs-backend-cpu';
import { beforeAll, describe, expect, it } from 'vitest';
import { differingWeights, isRandomlyInitialised, sameValues, weightValues } from '../testing/weights.js';
import { fusedI3D, i3d, i3dWithSqueezeExcite } from './i3d.js';
import { SeededDropout } from './seeded-dropout.js';

// The weights do not depend on the clip size; the smallest clip keeps the builds cheap.
const SMALL = { numClasses: 5, frames: 8, imageSize: 32 } as const;

beforeAll(async () => {
  await tf.setBackend('cpu');
});

function weightsOf(build: () => tfl.LayersModel) {
  const model = build();
  const values = weightValues(model);
  model.dispose();
  return values;
}

describe('seeded I3D builders', () => {
  it('i3dWithSqueezeExcite: the same seed gives identical weights (SE blocks included), another seed different ones', () => {
    const a = weightsOf(() => i3dWithSqueezeExcite({ ...SMALL, seed: 0 }));
    const b = weightsOf(() => i3dWithSqueezeExcite({ ...SMALL, seed: 0 }));
    expect(differingWeights(a, b)).toEqual([]);
    const c = weightsOf(() => i3dWithSqueezeExcite({ ...SMALL, seed: 1 }));
    const random = [...a.keys()].filter(isRandomlyInitialised);
    expect(random).toEqual(expect.arrayContaining(['m0_Conv3d_1a_7x7_conv3d/kernel', 'm0_logits_conv3d/bias', 'm0_se_Mixed_5c/excite_kernel']));
    expect(differingWeights(a, c).sort()).toEqual(random.sort());
  });

  it('unseeded i3d still builds with random weights and the plain tfjs Dropout', () => {
    const model = i3d(SMALL);
    expect(model.getLayer('dropout').getClassName()).toBe('Dropout');
    const a = weightValues(model);
    model.dispose();
    const b = weightsOf(() => i3d(SMALL));
    expect(differingWeights(a, b)).toContain('Conv3d_1a_7x7_conv3d/kernel');
  });

  it('fusedI3D: reproducible, MMTMs included, and the two branches differ', () => {
    const options = { ...SMALL, inChannels: [1, 1], seed: 7 } as const;
    const model = fusedI3D(options);
    expect(model.getLayer('m0_dropout')).toBeInstanceOf(SeededDropout);
    const a = weightValues(model);
    model.dispose();
    const b = weightsOf(() => fusedI3D(options));
    expect(differingWeights(a, b)).toEqual([]);
    expect([...a.keys()].filter((n) => n.startsWith('mmtm_Mixed_'))).not.toHaveLength(0);
    const m0 = [...a.keys()].filter((n) => n.startsWith('m0_') && isRandomlyInitialised(n));
    expect(m0.length).toBeGreaterThan(50);
    expect(m0.filter((n) => sameValues(a.get(n), a.get(n.replace(/^m0_/, 'm1_'))))).toEqual([]);
  });
});

describe('SeededDropout', () => {
  it('draws the same mask sequence in two identical layers, a new mask each training call, nothing at inference', () => {
    const build = () => {
      const input = tfl.input({ shape: [64] });
      return tfl.model({ inputs: input, outputs: new SeededDropout({ rate: 0.5, seed: 11, name: 'drop' }).apply(input) as tfl.SymbolicTensor });
    };
    const [first, second] = [build(), build()];
    const x = tf.ones([4, 64]);
    const run = (m: tfl.LayersModel, training: boolean) => tf.tidy(() => Array.from((m.apply(x, { training }) as tf.Tensor).dataSync()));
    const a1 = run(first, true);
    const a2 = run(first, true);
    expect(run(second, true)).toEqual(a1);
    expect(run(second, true)).toEqual(a2);
    expect(a2).not.toEqual(a1);
    expect(new Set(a1)).toEqual(new Set([0, 2]));
    expect(run(first, false)).toEqual(Array(4 * 64).fill(1));
    x.dispose();
    first.dispose();
    second.dispose();
    expect(tf.memory().numTensors).toBe(0);
  });
});
