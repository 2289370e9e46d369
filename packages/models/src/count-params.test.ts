import * as tfl from '@tensorflow/tfjs-layers';
import '@tensorflow/tfjs-backend-cpu';
import { describe, expect, it } from 'vitest';
import { countParams } from './count-params.js';

describe('countParams', () => {
  it('counts trainable weights like PyTorch and all weights like tfjs', () => {
    const input = tfl.input({ shape: [8, 8, 3] });
    const conv = tfl.layers.conv2d({ filters: 4, kernelSize: 3, useBias: false }).apply(input) as tfl.SymbolicTensor;
    const bn = tfl.layers.batchNormalization({}).apply(conv) as tfl.SymbolicTensor;
    const model = tfl.model({ inputs: input, outputs: bn });
    // conv 3·3·3·4 = 108; BN gamma+beta 8 trainable, moving mean+variance 8 not.
    expect(countParams(model)).toBe(116);
    expect(countParams(model, 'all')).toBe(124);
    expect(countParams(model, 'all')).toBe(model.countParams());
    model.dispose();
  });
});
