import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '@mm/backend';
import { encodeSafetensors, exportTorchStateDict, fusedI3D, i3d, i3dTorchBindings, parseSafetensors } from '@mm/models';
import { beforeAll, describe, expect, it } from 'vitest';
import { importPretrainedBranch } from './run.js';

const SMALL = { frames: 8, imageSize: 32 } as const;

beforeAll(async () => {
  await initBackend({ backend: 'wasm', log: false });
});

describe('--pretrained', () => {
  it('loads Kinetics I3D weights into both branches; the depth stem is the RGB stem averaged over channels', () => {
    const kinetics = i3d({ numClasses: 400, ...SMALL });
    const file = parseSafetensors(encodeSafetensors(exportTorchStateDict(i3dTorchBindings(kinetics))));
    const rgbStem = kinetics.getLayer('Conv3d_1a_7x7_conv3d').getWeights()[0]; // [7, 7, 7, 3, 64]
    const expectedDepthStem = tf.tidy(() => tf.mean(rgbStem, 3, true).dataSync());
    const mixed = kinetics.getLayer('Mixed_5c_b1b_conv3d').getWeights()[0].dataSync();

    const fused = fusedI3D({ numClasses: 25, inChannels: [3, 1], ...SMALL });
    importPretrainedBranch(fused, file, 'm0_', 3, 'kinetics.safetensors');
    importPretrainedBranch(fused, file, 'm1_', 1, 'kinetics.safetensors');
    expect(Array.from(fused.getLayer('m0_Conv3d_1a_7x7_conv3d').getWeights()[0].dataSync())).toEqual(Array.from(rgbStem.dataSync()));
    const depthStem = fused.getLayer('m1_Conv3d_1a_7x7_conv3d').getWeights()[0];
    expect(depthStem.shape).toEqual([7, 7, 7, 1, 64]);
    const actual = depthStem.dataSync();
    for (let i = 0; i < actual.length; i++) expect(Math.abs(actual[i] - expectedDepthStem[i])).toBeLessThan(1e-6);
    for (const k of [0, 1]) expect(Array.from(fused.getLayer(`m${k}_Mixed_5c_b1b_conv3d`).getWeights()[0].dataSync())).toEqual(Array.from(mixed));
    // Heads stay 25-class and freshly initialised.
    expect(fused.getLayer('m0_logits_conv3d').getWeights()[0].shape).toEqual([1, 1, 1, 1024, 25]);
    kinetics.dispose();
    fused.dispose();
  });
});
