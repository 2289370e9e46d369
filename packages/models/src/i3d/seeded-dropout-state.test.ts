import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as tfl from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { SeededDropout } from './seeded-dropout.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('SeededDropout host state', () => {
  it('a layer given another one’s stream position draws the masks that one draws next; a bad position is refused', () => {
    const build = () => {
      const input = tfl.input({ shape: [64] });
      const layer = new SeededDropout({ rate: 0.5, seed: 5, name: 'drop' });
      return { layer, model: tfl.model({ inputs: input, outputs: layer.apply(input) as tfl.SymbolicTensor }) };
    };
    const x = tf.ones([2, 64]);
    const draw = (m: tfl.LayersModel) => tf.tidy(() => Array.from((m.apply(x, { training: true }) as tf.Tensor).dataSync()));
    const straight = build();
    for (let i = 0; i < 3; i++) draw(straight.model);
    expect(straight.layer.hostState()).toEqual({ draws: 3 });
    const resumed = build();
    resumed.layer.setHostState(JSON.parse(JSON.stringify(straight.layer.hostState())));
    expect(draw(resumed.model)).toEqual(draw(straight.model));
    for (const bad of [{ draws: -1 }, { draws: 1.5 }, {}, null]) expect(() => resumed.layer.setHostState(bad)).toThrow(/saved draws must be an integer ≥ 0/);
    expect(resumed.layer.hostState()).toEqual({ draws: 4 });
    x.dispose();
    straight.model.dispose();
    resumed.model.dispose();
  });
});
