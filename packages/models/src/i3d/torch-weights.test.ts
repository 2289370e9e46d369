import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '@mm/backend';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countParams } from '../count-params.js';
import { closestSamplePair, maxAbsDifference, predictArray, runReferenceScript } from '../testing/torch-python.js';
import { channelsFirstToLast } from '../weights/layout.js';
import { encodeSafetensors, parseSafetensors, type SafetensorsFile } from '../weights/safetensors.js';
import { readSafetensorsFile } from '../weights/safetensors-file.js';
import { exportTorchStateDict, TorchWeightImportError } from '../weights/torch-import.js';
import { fusedI3D, i3d, I3D_BATCH_NORM } from './i3d.js';
import { i3dTorchBindings, i3dTorchModuleName, importTorchI3D } from './torch-weights.js';

const REFERENCE_SCRIPT = join(dirname(fileURLToPath(import.meta.url)), '../../scripts/torch_i3d_reference.py');
// Logits must match PyTorch's within this (the acceptance criterion of the import).
const LOGIT_TOLERANCE = 2e-4;
// A deliberately wrong network, or different inputs, must miss by at least this many tolerances.
const CONTROL_FACTOR = 100;
// Full-size clips through PyTorch and tfjs take about a minute alone, several beside other test files.
const HEAVY_TEST_TIMEOUT = 600_000;
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

describe('importTorchI3D against the PyTorch InceptionI3d', () => {
  let workDir: string;
  beforeAll(() => {
    workDir = mkdtempSync(join(tmpdir(), 'mm-i3d-torch-'));
  });
  afterAll(() => {
    rmSync(workDir, { recursive: true, force: true });
  });

  interface Reference {
    weights: SafetensorsFile;
    /** The clips, channels-last (NDHWC). */
    input: { shape: number[]; data: Float32Array };
    /** [batch, classes]: the mean over time and space. */
    logits: Float32Array;
    /** [batch, classes, time, h, w]: the logits convolution's output, what the port squeezes and returns. */
    perPosition: { shape: number[]; data: Float32Array };
    /** [batch, classes]: the same network with every odd SAME padding's extra row first (a control). */
    paddingFlipped: Float32Array;
    parameters: number;
  }

  /** Runs scripts/torch_i3d_reference.py (non-default weights, calibrated BatchNorm statistics). */
  async function reference(numClasses: number, channels: number, frames: number, height: number, width: number, batch: number): Promise<Reference> {
    const dir = join(workDir, `${numClasses}-${channels}-${frames}x${height}x${width}`);
    const printed = JSON.parse(runReferenceScript(REFERENCE_SCRIPT, [dir, numClasses, channels, frames, height, width, batch, 1]));
    const weights = await readSafetensorsFile(join(dir, 'weights.safetensors'));
    const inputFile = await readSafetensorsFile(join(dir, 'input.safetensors'));
    const logitsFile = await readSafetensorsFile(join(dir, 'logits.safetensors'));
    const read = (file: SafetensorsFile, name: string) => {
      const tensor = file.tensors.get(name);
      if (!tensor) throw new Error(`reference script wrote no '${name}'`);
      return { shape: [...tensor.shape], data: tensor.toFloat32() };
    };
    const ncdhw = read(inputFile, 'input');
    const input = channelsFirstToLast(ncdhw);
    return {
      weights,
      input: { shape: [...input.shape], data: Float32Array.from(input.data) },
      logits: read(logitsFile, 'logits').data,
      perPosition: read(logitsFile, 'per_position'),
      paddingFlipped: read(logitsFile, 'logits_padding_flipped').data,
      parameters: printed.parameters,
    };
  }

  function importedModel(ref: Reference, options: Parameters<typeof i3d>[0]) {
    const model = i3d(options);
    expect(countParams(model)).toBe(ref.parameters);
    const report = importTorchI3D(model, ref.weights, { source: 'weights.safetensors' });
    expect(report.ignored.every((n) => n.endsWith('.num_batches_tracked'))).toBe(true);
    expect(report.loaded.length + report.ignored.length).toBe(ref.weights.tensors.size);
    return model;
  }

  function predict(model: ReturnType<typeof i3d>, input: Reference['input'], transform?: (x: tf.Tensor) => tf.Tensor) {
    return tf.tidy(() => {
      const x = tf.tensor(input.data, input.shape);
      return (model.predict(transform ? transform(x) : x) as tf.Tensor).dataSync() as Float32Array;
    });
  }

  it('reproduces the logits of several clips, and fails when BN eps, a padding or the input layout is wrong', async () => {
    const [batch, frames, size] = [3, 8, 64];
    const ref = await reference(25, 3, frames, size, size, batch);
    const model = importedModel(ref, { numClasses: 25, inChannels: 3, frames, imageSize: size });
    const actual = predict(model, ref.input);
    const worst = maxAbsDifference(actual, ref.logits);
    const apart = closestSamplePair(ref.logits, batch);

    // Controls: each one thing wrong must be far outside the tolerance.
    const transposed = maxAbsDifference(predict(model, ref.input, (x) => tf.transpose(x, [0, 1, 3, 2, 4])), ref.logits);
    const padding = maxAbsDifference(actual, ref.paddingFlipped);
    // BatchNorm eps 1e-5 (PyTorch's default, not the port's 1e-3) is the same as every running
    // variance lowered by the difference: var + 1e-5 = (var − (1e-3 − 1e-5)) + 1e-3.
    for (const layer of model.layers.filter((l) => l.getClassName() === 'BatchNormalization')) {
      const [gamma, beta, mean, variance] = layer.getWeights();
      const lowered = tf.sub(variance, I3D_BATCH_NORM.epsilon - 1e-5);
      layer.setWeights([gamma, beta, mean, lowered]);
      lowered.dispose();
    }
    const eps = maxAbsDifference(predict(model, ref.input), ref.logits);
    model.dispose();
    console.log(
      `i3d 25 classes, ${batch}×3×${frames}×${size}×${size}: max |logit difference| vs PyTorch = ${worst.toExponential(2)}; closest two clips differ by ${apart.toExponential(2)}; ` +
        `controls: BN eps 1e-5 → ${eps.toExponential(2)}, SAME padding's extra row first → ${padding.toExponential(2)}, frames transposed (h↔w) → ${transposed.toExponential(2)}`,
    );
    expect(worst).toBeLessThan(LOGIT_TOLERANCE);
    expect(apart).toBeGreaterThan(CONTROL_FACTOR * LOGIT_TOLERANCE);
    expect(eps).toBeGreaterThan(CONTROL_FACTOR * LOGIT_TOLERANCE);
    expect(padding).toBeGreaterThan(CONTROL_FACTOR * LOGIT_TOLERANCE);
    expect(transposed).toBeGreaterThan(CONTROL_FACTOR * LOGIT_TOLERANCE);
  }, HEAVY_TEST_TIMEOUT);

  it("perTimeLogits gives the port's [batch, classes, time] at the port's exact head, averaging the 2×2 positions of frames over 224 px", async () => {
    // 17 frames → 3 time steps after Mixed_5c → 2 after the [2, 7, 7] pool; 225 (odd) and 232 px → 8×8 → 2×2.
    const ref = await reference(400, 3, 17, 225, 232, 1);
    // Where the port returns [batch, classes, time, h, w]: its squeeze(3) leaves an axis of 2.
    expect(ref.perPosition.shape).toEqual([1, 400, 2, 2, 2]);
    const model = importedModel(ref, { numClasses: 400, inChannels: 3, frames: 17, imageSize: [225, 232], perTimeLogits: true });
    expect(model.outputs[0].shape).toEqual([null, 400, 2]);
    const actual = predict(model, ref.input);
    model.dispose();
    const [expectedPerTime, meanOverTime] = tf.tidy(() => {
      const perPosition = tf.tensor(ref.perPosition.data, ref.perPosition.shape);
      const perTime = tf.tensor(actual, [1, 400, 2]);
      return [tf.mean(perPosition, [3, 4]).dataSync() as Float32Array, tf.mean(perTime, 2).dataSync() as Float32Array];
    });
    const worst = maxAbsDifference(actual, expectedPerTime);
    // The default output is the mean of the per-time logits.
    const worstMean = maxAbsDifference(meanOverTime, ref.logits);
    const steps = maxAbsDifference(actual.filter((_, i) => i % 2 === 0), actual.filter((_, i) => i % 2 === 1));
    console.log(
      `i3d 400 classes, 3×17×225×232, per time step: max |logit difference| vs PyTorch = ${worst.toExponential(2)} (their mean over time: ${worstMean.toExponential(2)}); the two time steps differ by ${steps.toExponential(2)}`,
    );
    expect(worst).toBeLessThan(LOGIT_TOLERANCE);
    expect(worstMean).toBeLessThan(LOGIT_TOLERANCE);
    expect(steps).toBeGreaterThan(CONTROL_FACTOR * LOGIT_TOLERANCE);
  }, HEAVY_TEST_TIMEOUT);
});
