import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import '@tensorflow/tfjs-backend-cpu';
import { beforeAll, describe, expect, it } from 'vitest';
import { cgMnistFusedNet } from '../cg-mnist/cg-mnist.js';
import { encodeModelWeights, loadModelWeights } from './model-weights.js';

describe('model weights as safetensors', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });

  it('round-trips every weight (statistics included) into a freshly built model', () => {
    const a = cgMnistFusedNet({ widths: [4, 4, 8, 8], seed: 1 });
    const b = cgMnistFusedNet({ widths: [4, 4, 8, 8], seed: 2 });
    loadModelWeights(b, encodeModelWeights(a), 'memory');
    a.weights.forEach((w, i) => expect(Array.from(b.weights[i].read().dataSync())).toEqual(Array.from(w.read().dataSync())));
  });

  it('lists missing and mis-shaped weights with the caller hint, and writes nothing', () => {
    const a = cgMnistFusedNet({ widths: [4, 4, 8, 8], seed: 1 });
    const wider = cgMnistFusedNet({ widths: [4, 4, 8, 16], seed: 3 });
    const before = Array.from(wider.weights[0].read().dataSync());
    expect(() => loadModelWeights(wider, encodeModelWeights(a), 'ckpt.safetensors', 'different --widths?')).toThrow(
      /ckpt\.safetensors does not fit this model \(different --widths\?\): .*m0_block4_conv\/kernel has shape \[3,3,8,8\], model needs \[3,3,8,16\]/,
    );
    expect(Array.from(wider.weights[0].read().dataSync())).toEqual(before);
    const input = tfl.input({ shape: [2] });
    const other = tfl.model({ inputs: input, outputs: tfl.layers.dense({ units: 1, name: 'lonely' }).apply(input) as tfl.SymbolicTensor });
    expect(() => loadModelWeights(other, encodeModelWeights(a), 'ckpt')).toThrow(/lonely\/kernel missing/);
  });
});
