import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import '@tensorflow/tfjs-backend-cpu';
import { beforeAll, describe, expect, it } from 'vitest';
import { countParams } from '../count-params.js';
import { fusedI3D, i3d, i3dWithSqueezeExcite, I3D_END_POINTS, I3D_FUSION_POINTS } from './i3d.js';

// sum(p.numel() for p in InceptionI3d(num_classes=…, in_channels=3).parameters()) in the PyTorch port.
const PORT_PARAMS_400_CLASSES = 12_697_264;
const PORT_PARAMS_25_CLASSES = 12_312_889;
// The logits are a 1×1×1 convolution with bias on Mixed_5c's 1024 channels.
const LOGITS_INPUT_CHANNELS = 1024;

// Parameter counts do not depend on the clip size, so the small clip keeps building cheap.
const SMALL = { frames: 8, imageSize: 64 } as const;

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('i3d', () => {
  it('has exactly as many trainable parameters as the PyTorch InceptionI3d (400 and 25 classes)', () => {
    const kinetics = i3d({ numClasses: 400, inChannels: 3, ...SMALL });
    expect(countParams(kinetics)).toBe(PORT_PARAMS_400_CLASSES);
    kinetics.dispose();
    const nvgesture = i3d({ numClasses: 25, inChannels: 3, ...SMALL });
    expect(countParams(nvgesture)).toBe(PORT_PARAMS_25_CLASSES);
    nvgesture.dispose();
  });

  it('builds at the port input size (64×224×224) with the port feature-map shapes', () => {
    const model = i3d({ numClasses: 400 });
    expect(countParams(model)).toBe(PORT_PARAMS_400_CLASSES);
    expect(model.inputs[0].shape).toEqual([null, 64, 224, 224, 3]);
    const shapeOf = (name: string) => (model.getLayer(name).output as tfl.SymbolicTensor).shape;
    expect(shapeOf('Conv3d_1a_7x7_relu')).toEqual([null, 32, 112, 112, 64]);
    expect(shapeOf('Mixed_3c_concat')).toEqual([null, 32, 28, 28, 480]);
    expect(shapeOf('Mixed_4f_concat')).toEqual([null, 16, 14, 14, 832]);
    expect(shapeOf('Mixed_5c_concat')).toEqual([null, 8, 7, 7, LOGITS_INPUT_CHANNELS]);
    // AvgPool3d([2, 7, 7], stride 1): 7 time steps of logits, then their mean.
    expect(shapeOf('avg_pool')).toEqual([null, 7, 1, 1, LOGITS_INPUT_CHANNELS]);
    expect(model.outputs[0].shape).toEqual([null, 400]);
    model.dispose();
  });

  it('honours frames, size and channels; one input channel removes 7·7·7·64·2 weights', () => {
    const depth = i3d({ numClasses: 25, inChannels: 1, frames: 4, imageSize: [32, 48] });
    expect(depth.inputs[0].shape).toEqual([null, 4, 32, 48, 1]);
    expect(depth.outputs[0].shape).toEqual([null, 25]);
    expect(PORT_PARAMS_25_CLASSES - countParams(depth)).toBe(7 * 7 * 7 * 64 * 2);
    const logits = tf.tidy(() => (depth.predict(tf.ones([2, 4, 32, 48, 1])) as tf.Tensor).shape);
    expect(logits).toEqual([2, 25]);
    depth.dispose();
  });

  it("perTimeLogits outputs the port's [batch, classes, time]; frames over 224 px are averaged over space", () => {
    const shapeOf = (model: tfl.LayersModel, name: string) => (model.getLayer(name).output as tfl.SymbolicTensor).shape;
    // 64×224×224: 7 time steps, one position each, as the port's forward returns them.
    const port = i3d({ numClasses: 400, perTimeLogits: true });
    expect(countParams(port)).toBe(PORT_PARAMS_400_CLASSES);
    expect(shapeOf(port, 'avg_pool')).toEqual([null, 7, 1, 1, LOGITS_INPUT_CHANNELS]);
    expect(port.outputs[0].shape).toEqual([null, 400, 7]);
    port.dispose();
    // 256 px: an 8×8 map after Mixed_5c, 2×2 positions after the pool, where the port would
    // return [batch, classes, time, 2, 2]; here their mean per time step.
    const large = i3d({ numClasses: 25, frames: 16, imageSize: 256, perTimeLogits: true });
    expect(shapeOf(large, 'avg_pool')).toEqual([null, 1, 2, 2, LOGITS_INPUT_CHANNELS]);
    expect(shapeOf(large, 'logits_space_mean')).toEqual([null, 1, 1, 1, 25]);
    expect(large.outputs[0].shape).toEqual([null, 25, 1]);
    large.dispose();
  });

  it('names layers after the PyTorch module paths', () => {
    const model = i3d({ numClasses: 25, namePrefix: 'm1_', ...SMALL });
    const withWeights = model.layers.filter((l) => l.weights.length > 0).map((l) => l.name);
    expect(withWeights.every((n) => n.startsWith('m1_'))).toBe(true);
    for (const name of ['m1_Conv3d_1a_7x7_conv3d', 'm1_Conv3d_1a_7x7_bn', 'm1_Mixed_4c_b1b_conv3d', 'm1_Mixed_5c_b3b_bn', 'm1_logits_conv3d']) {
      expect(withWeights).toContain(name);
    }
    model.dispose();
  });

  it('rejects bad options with a clear message', () => {
    expect(() => i3d({ numClasses: 0 })).toThrow(/numClasses/);
    expect(() => i3d({ imageSize: 16 })).toThrow(/at least 32×32/);
    expect(() => i3d({ frames: 0 })).toThrow(/frames/);
    expect(() => fusedI3D({ inChannels: [3] })).toThrow(/two modalities/);
    expect(() => fusedI3D({ fuseAt: ['Mixed_9z' as never], ...SMALL })).toThrow(/unknown fusion point/);
  });
});

describe('i3dWithSqueezeExcite (uni-modal baseline)', () => {
  it('adds one SE block after each fusion point, all layers prefixed m0_', () => {
    const model = i3dWithSqueezeExcite({ numClasses: 25, ...SMALL });
    const se = model.layers.filter((l) => l.getClassName() === 'SqueezeExcite').map((l) => l.name);
    expect(se).toEqual(I3D_FUSION_POINTS.map((p) => `m0_se_${p}`));
    expect(model.layers.filter((l) => l.weights.length > 0).every((l) => l.name.startsWith('m0_'))).toBe(true);
    expect(countParams(model)).toBeGreaterThan(PORT_PARAMS_25_CLASSES);
    model.dispose();
  });
});

describe('fusedI3D', () => {
  it('has K inputs and K heads, branch layers m{k}_, MMTMs mmtm_<end point> in the six final inception modules', () => {
    const model = fusedI3D({ numClasses: 25, inChannels: [3, 1], ...SMALL });
    expect(model.inputs.map((x) => x.name)).toEqual(['x_m0', 'x_m1']);
    expect(model.inputs.map((x) => x.shape)).toEqual([
      [null, 8, 64, 64, 3],
      [null, 8, 64, 64, 1],
    ]);
    expect(model.outputs.map((y) => y.shape)).toEqual([
      [null, 25],
      [null, 25],
    ]);
    const mmtms = model.layers.filter((l) => l.getClassName() === 'MMTM').map((l) => l.name);
    expect(mmtms).toEqual(['Mixed_4c', 'Mixed_4d', 'Mixed_4e', 'Mixed_4f', 'Mixed_5b', 'Mixed_5c'].map((p) => `mmtm_${p}`));
    for (const layer of model.layers.filter((l) => l.weights.length > 0)) {
      expect(layer.name).toMatch(/^(m0_|m1_|mmtm_)/);
    }
    // Each branch alone is an I3D with its own input channels; what remains is the MMTMs.
    const branchParams = PORT_PARAMS_25_CLASSES * 2 - 7 * 7 * 7 * 64 * 2;
    const mmtmParams = model.layers.filter((l) => l.name.startsWith('mmtm_')).reduce((s, l) => s + l.trainableWeights.reduce((n, w) => n + w.shape.reduce((a: number, b) => a * (b ?? 1), 1), 0), 0);
    expect(countParams(model)).toBe(branchParams + mmtmParams);
    expect(I3D_END_POINTS).toContain('Mixed_5c');
    model.dispose();
  });

  it('perTimeLogits gives every head [batch, classes, time]', () => {
    // 24 frames → 3 time steps after Mixed_5c → 2 after the pool.
    const model = fusedI3D({ numClasses: 25, frames: 24, imageSize: 64, perTimeLogits: true });
    expect(model.outputs.map((y) => y.shape)).toEqual([
      [null, 25, 2],
      [null, 25, 2],
    ]);
    model.dispose();
  });
});
