import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '@mm/backend';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { predictArray, torchPython } from '../testing/torch-python.js';
import { channelsFirstToLast } from '../weights/layout.js';
import { encodeSafetensors, parseSafetensors } from '../weights/safetensors.js';
import { readSafetensorsFile } from '../weights/safetensors-file.js';
import { exportTorchStateDict, TorchWeightImportError } from '../weights/torch-import.js';
import { fusedI3D, i3d } from './i3d.js';
import { i3dTorchBindings, i3dTorchModuleName, importTorchI3D } from './torch-weights.js';

const REFERENCE_SCRIPT = join(dirname(fileURLToPath(import.meta.url)), '../../scripts/torch_i3d_reference.py');
// Logits must match PyTorch's within this (the acceptance criterion of the import).
const LOGIT_TOLERANCE = 1e-3;
const SMALL = { frames: 8, imageSize: 64 } as const;


beforeAll(async () => {
  await initBackend({ backend: 'wasm', log: false });
});

describe('I3D PyTorch names', () => {
  it('maps tfjs layers to the InceptionI3d module paths', () => {
    expect(i3dTorchModuleName('Conv3d_1a_7x7_conv3d')).toBe('Conv3d_1a_7x7.conv3d');
    expect(i3dTorchModuleName('Mixed_4c_b1b_bn')).toBe('Mixed_4c.b1b.bn');
    expect(i3dTorchModuleName('logits_conv3d')).toBe('logits.conv3d');
    expect(i3dTorchModuleName('se_Mixed_4c')).toBeNull();
    expect(() => i3dTorchModuleName('Mixed_9z_b0_conv3d')).toThrow(/does not belong/);
  });

  it('round-trips every weight through a port-named state dict, and lists every mismatch in one error', () => {
    const source = i3d({ numClasses: 6, ...SMALL, dropoutRate: 0 });
    const target = i3d({ numClasses: 6, ...SMALL, dropoutRate: 0 });
    const input = tf.randomUniform([1, 8, 64, 64, 3], -1, 1, 'float32', 4);
    const stateDict = exportTorchStateDict(i3dTorchBindings(source));
    expect(stateDict['Conv3d_1a_7x7.conv3d.weight'].shape).toEqual([64, 3, 7, 7, 7]);
    expect(stateDict['Mixed_5c.b3b.bn.running_var'].shape).toEqual([128]);
    expect(stateDict['logits.conv3d.bias'].shape).toEqual([6]);

    const broken = { ...stateDict };
    delete broken['Mixed_4d.b2b.bn.running_mean'];
    broken['Mixed_6a.b0.conv3d.weight'] = { shape: [1], data: new Float32Array(1) };
    broken['logits.conv3d.weight'] = { shape: [400, 1024, 1, 1, 1], data: new Float32Array(400 * 1024) };
    const before = predictArray(target, input);
    let error: unknown;
    try {
      importTorchI3D(target, parseSafetensors(encodeSafetensors(broken)), { source: 'broken.safetensors' });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(TorchWeightImportError);
    const importError = error as TorchWeightImportError;
    expect(importError.missing).toEqual(['Mixed_4d.b2b.bn.running_mean']);
    expect(importError.unexpected).toEqual(['Mixed_6a.b0.conv3d.weight']);
    expect(importError.misshaped).toEqual([{ name: 'logits.conv3d.weight', expected: [6, 1024, 1, 1, 1], actual: [400, 1024, 1, 1, 1] }]);
    expect(Array.from(predictArray(target, input))).toEqual(Array.from(before));

    const report = importTorchI3D(target, parseSafetensors(encodeSafetensors(stateDict)));
    expect(report.loaded.length).toBe(Object.keys(stateDict).length);
    const expected = predictArray(source, input);
    const actual = predictArray(target, input);
    for (let i = 0; i < expected.length; i++) expect(Math.abs(actual[i] - expected[i])).toBeLessThan(1e-5);
    tf.dispose(input);
    source.dispose();
    target.dispose();
  });

  it('loads Kinetics weights into the RGB branch of the fused network, keeping the 25-class head', () => {
    const kinetics = i3d({ numClasses: 400, ...SMALL });
    const file = parseSafetensors(encodeSafetensors(exportTorchStateDict(i3dTorchBindings(kinetics))));
    kinetics.dispose();
    const fused = fusedI3D({ numClasses: 25, inChannels: [3, 1], ...SMALL });
    expect(() => importTorchI3D(fused, file, { namePrefix: 'm0_' })).toThrow(/logits\.conv3d\.weight: file has \[400, 1024, 1, 1, 1\], model needs \[25, 1024, 1, 1, 1\]/);
    const report = importTorchI3D(fused, file, { namePrefix: 'm0_', skipLogits: true });
    expect(report.ignored).toEqual(expect.arrayContaining(['logits.conv3d.weight', 'logits.conv3d.bias']));
    // The depth branch has one input channel: its stem cannot take RGB weights, and says so.
    expect(() => importTorchI3D(fused, file, { namePrefix: 'm1_', skipLogits: true })).toThrow(
      /Conv3d_1a_7x7\.conv3d\.weight: file has \[64, 3, 7, 7, 7\], model needs \[64, 1, 7, 7, 7\]/,
    );
    // …unless its stem is excluded (the caller fills it, e.g. from the RGB filters averaged).
    const depthReport = importTorchI3D(fused, file, { namePrefix: 'm1_', skipLogits: true, exclude: ['Conv3d_1a_7x7.conv3d'] });
    expect(depthReport.ignored).toContain('Conv3d_1a_7x7.conv3d.weight');
    expect(depthReport.loaded).toContain('Conv3d_1a_7x7.bn.running_var');
    fused.dispose();
  });
});

describe.skipIf(!torchPython.python)('importTorchI3D against PyTorch', () => {
  let workDir: string;
  beforeAll(() => {
    workDir = mkdtempSync(join(tmpdir(), 'mm-i3d-torch-'));
  });
  afterAll(() => {
    rmSync(workDir, { recursive: true, force: true });
  });

  async function compare(numClasses: number, channels: number, frames: number, height: number, width: number, batch: number) {
    const dir = join(workDir, `${numClasses}-${channels}-${frames}x${height}x${width}`);
    const run = spawnSync(torchPython.python as string, [REFERENCE_SCRIPT, dir, ...[numClasses, channels, frames, height, width, batch, 1].map(String)], {
      encoding: 'utf8',
      env: { ...process.env, OMP_NUM_THREADS: '1' },
    });
    if (run.status !== 0) throw new Error(`reference script failed (exit ${run.status}): ${run.stderr || run.error?.message}`);
    const weights = await readSafetensorsFile(join(dir, 'weights.safetensors'));
    const inputFile = await readSafetensorsFile(join(dir, 'input.safetensors'));
    const logitsFile = await readSafetensorsFile(join(dir, 'logits.safetensors'));
    const ncdhw = inputFile.tensors.get('input');
    const expected = logitsFile.tensors.get('logits');
    if (!ncdhw || !expected) throw new Error('reference script wrote incomplete files');
    const ndhwc = channelsFirstToLast({ shape: ncdhw.shape, data: ncdhw.toFloat32() });

    const model = i3d({ numClasses, inChannels: channels, frames, imageSize: [height, width] });
    const report = importTorchI3D(model, weights, { source: 'weights.safetensors' });
    expect(report.ignored.every((n) => n.endsWith('.num_batches_tracked'))).toBe(true);
    expect(report.loaded.length + report.ignored.length).toBe(weights.tensors.size);
    const input = tf.tensor(ndhwc.data, ndhwc.shape as number[]);
    const actual = predictArray(model, input);
    input.dispose();
    model.dispose();
    const reference = expected.toFloat32();
    expect(actual.length).toBe(reference.length);
    let worst = 0;
    for (let i = 0; i < reference.length; i++) worst = Math.max(worst, Math.abs(actual[i] - reference[i]));
    console.log(`i3d ${numClasses} classes, ${channels}×${frames}×${height}×${width}: max |logit difference| vs PyTorch = ${worst.toExponential(2)}`);
    expect(worst).toBeLessThan(LOGIT_TOLERANCE);
  }

  it('reproduces PyTorch logits with the port head (AvgPool [2, 7, 7] over 3 time steps), odd non-square frames', async () => {
    // 193×200 → 7×7 after Mixed_5c, 20 frames → 3 time steps: the port's exact head.
    await compare(400, 3, 20, 193, 200, 1);
  });

  it('reproduces PyTorch logits for a one-channel (depth) CPU-scale clip', async () => {
    await compare(25, 1, 8, 64, 64, 2);
  });
});
