import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { beforeAll, describe, expect, it } from 'vitest';
import { differingWeights, isRandomlyInitialised, sameValues, weightValues } from '../testing/weights.js';
import { fusedResNet18, resnet18SE } from './fused.js';
import { resnet18 } from './resnet18.js';

// 32×32 is the smallest input; the weights do not depend on it, so it keeps the builds cheap.
const SMALL = { numClasses: 5, imageSize: 32 } as const;

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** Builds, reads every weight, disposes. */
function weightsOf(build: () => { dispose: () => void } & Parameters<typeof weightValues>[0]) {
  const model = build();
  const values = weightValues(model);
  model.dispose();
  return values;
}

describe('seeded ResNet18 builders', () => {
  it('resnet18: the same seed gives identical weights, another seed different ones; seed 0 is a seed', () => {
    const a = weightsOf(() => resnet18({ ...SMALL, seed: 0 }));
    const b = weightsOf(() => resnet18({ ...SMALL, seed: 0 }));
    expect(a.size).toBeGreaterThan(0);
    expect(differingWeights(a, b)).toEqual([]);
    const c = weightsOf(() => resnet18({ ...SMALL, seed: 1 }));
    const random = [...a.keys()].filter(isRandomlyInitialised);
    expect(random).toContain('conv1/kernel');
    expect(random).toContain('fc/bias');
    expect(differingWeights(a, c).sort()).toEqual(random.sort());
  });

  it('unseeded builds still work and differ from each other', () => {
    const a = weightsOf(() => resnet18(SMALL));
    const b = weightsOf(() => resnet18(SMALL));
    expect(differingWeights(a, b)).toContain('conv1/kernel');
    expect(tf.memory().numTensors).toBe(0);
  });

  it('fusedResNet18: reproducible, branches differ, and a branch equals resnet18 with its prefix (order-free seeds)', () => {
    const a = weightsOf(() => fusedResNet18({ ...SMALL, seed: 42 }));
    const b = weightsOf(() => fusedResNet18({ ...SMALL, seed: 42 }));
    expect(differingWeights(a, b)).toEqual([]);
    expect([...a.keys()].filter((n) => n.startsWith('mmtm_layer'))).not.toHaveLength(0);

    // Every randomly initialised weight of branch m0 differs from its m1 twin.
    const m0 = [...a.keys()].filter((n) => n.startsWith('m0_') && isRandomlyInitialised(n));
    expect(m0.length).toBeGreaterThan(20);
    expect(m0.filter((n) => sameValues(a.get(n), a.get(n.replace(/^m0_/, 'm1_'))))).toEqual([]);

    // Seeds come from the layer names, not from the order of construction.
    const branch = weightsOf(() => resnet18({ ...SMALL, seed: 42, namePrefix: 'm1_' }));
    const fusedBranch = new Map([...a].filter(([n]) => n.startsWith('m1_')));
    expect(differingWeights(branch, fusedBranch)).toEqual([]);
  });

  it('resnet18SE: reproducible including the SE blocks; an explicit se.seed still wins', () => {
    const a = weightsOf(() => resnet18SE({ ...SMALL, seed: 3 }));
    const b = weightsOf(() => resnet18SE({ ...SMALL, seed: 3 }));
    expect(differingWeights(a, b)).toEqual([]);
    const c = weightsOf(() => resnet18SE({ ...SMALL, seed: 4, se: { seed: 9 } }));
    const d = weightsOf(() => resnet18SE({ ...SMALL, seed: 5, se: { seed: 9 } }));
    const seWeights = [...c.keys()].filter((n) => n.startsWith('m0_se_'));
    expect(seWeights).toHaveLength(12);
    expect(differingWeights(c, d).filter((n) => n.startsWith('m0_se_'))).toEqual([]);
    expect(differingWeights(a, c)).toEqual(expect.arrayContaining([...seWeights, 'm0_conv1/kernel']));
  });

  it('rejects a non-finite seed', () => {
    expect(() => resnet18({ ...SMALL, seed: Number.NaN })).toThrow(/resnet18: seed must be a finite number/);
    expect(() => fusedResNet18({ ...SMALL, seed: Infinity })).toThrow(/fusedResNet18: seed/);
  });
});
