import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { initBackend } from '@mm/backend';
import { beforeAll, describe, expect, it } from 'vitest';
import { countParams } from '../count-params.js';
import { resnet18 } from './resnet18.js';

// torchvision.models.resnet18(num_classes=1000): sum(p.numel() for p in model.parameters()).
const TORCHVISION_RESNET18_PARAMS = 11_689_512;

beforeAll(async () => {
  await initBackend({ backend: 'wasm', log: false });
});

describe('resnet18', () => {
  it('has exactly as many trainable parameters as torchvision resnet18', () => {
    const model = resnet18({ numClasses: 1000 });
    expect(countParams(model)).toBe(TORCHVISION_RESNET18_PARAMS);
    model.dispose();
  });

  it('changes only the head with the class count (512·k + k)', () => {
    const classes = 40;
    const model = resnet18({ numClasses: classes, imageSize: 64 });
    const headDelta = 513 * (1000 - classes);
    expect(countParams(model)).toBe(TORCHVISION_RESNET18_PARAMS - headDelta);
    model.dispose();
  });

  it('honours image size and channels and names layers like torchvision modules', () => {
    const model = resnet18({ numClasses: 5, imageSize: [64, 96], channels: 1, namePrefix: 'm1_' });
    expect(model.inputs[0].shape).toEqual([null, 64, 96, 1]);
    expect(model.outputs[0].shape).toEqual([null, 5]);
    const withWeights = model.layers.filter((l) => l.weights.length > 0).map((l) => l.name);
    expect(withWeights.every((n) => n.startsWith('m1_'))).toBe(true);
    expect(withWeights).toContain('m1_conv1');
    expect(withWeights).toContain('m1_layer2_0_downsample_0');
    expect(withWeights).toContain('m1_layer4_1_bn2');
    expect(withWeights).toContain('m1_fc');
    // Only the first block of layers 2–4 has a projection shortcut.
    expect(withWeights.filter((n) => n.includes('downsample_0'))).toEqual([
      'm1_layer2_0_downsample_0',
      'm1_layer3_0_downsample_0',
      'm1_layer4_0_downsample_0',
    ]);
    // One channel instead of three removes 7·7·64·2 weights from conv1.
    const rgb = resnet18({ numClasses: 5, imageSize: 64 });
    expect(countParams(rgb) - countParams(model)).toBe(7 * 7 * 64 * 2);
    rgb.dispose();
    model.dispose();
  });

  it('downsamples like torchvision (stride 32, odd sizes rounded as PyTorch does)', () => {
    const model = resnet18({ numClasses: 3, imageSize: [65, 97] });
    const layer4 = model.getLayer('layer4_1_relu2').output as tfl.SymbolicTensor;
    // PyTorch: 65 → 33 → 17 → 17 → 9 → 5 → 3; 97 → 49 → 25 → 25 → 13 → 7 → 4.
    expect(layer4.shape).toEqual([null, 3, 4, 512]);
    const logits = tf.tidy(() => (model.predict(tf.ones([1, 65, 97, 3])) as tf.Tensor).shape);
    expect(logits).toEqual([1, 3]);
    model.dispose();
  });

  it('rejects sizes it cannot handle with a clear message', () => {
    expect(() => resnet18({ imageSize: 16 })).toThrow(/at least 32×32/);
    expect(() => resnet18({ numClasses: 0 })).toThrow(/numClasses/);
  });
});
