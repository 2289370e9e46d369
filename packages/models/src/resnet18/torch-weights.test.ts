import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '@mm/backend';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countParams } from '../count-params.js';
import { closestSamplePair, maxAbsDifference, predictArray, runReferenceScript } from '../testing/torch-python.js';
import { channelsFirstToLast, torchToTfjs } from '../weights/layout.js';
import { encodeSafetensors, parseSafetensors, type SafetensorsFile } from '../weights/safetensors.js';
import { readSafetensorsFile } from '../weights/safetensors-file.js';
import { exportTorchStateDict, TorchWeightImportError } from '../weights/torch-import.js';
import { resnet18 } from './resnet18.js';
import { importTorchResNet18, resnet18TorchBindings } from './torch-weights.js';

const REFERENCE_SCRIPT = join(dirname(fileURLToPath(import.meta.url)), '../../scripts/torch_resnet18_reference.py');
// Logits must match PyTorch's within this (the acceptance criterion of the import).
const LOGIT_TOLERANCE = 1e-4;
// Three 224×224 images through torchvision and tfjs take about 20 s alone, over a minute beside other test files.
const HEAVY_TEST_TIMEOUT = 600_000;


function stateDictOf(model: Parameters<typeof resnet18TorchBindings>[0], options?: Parameters<typeof resnet18TorchBindings>[1]): SafetensorsFile {
  return parseSafetensors(encodeSafetensors(exportTorchStateDict(resnet18TorchBindings(model, options))));
}

beforeAll(async () => {
  await initBackend({ backend: 'wasm', log: false });
});

describe('importTorchResNet18 (no PyTorch needed)', () => {
  const size = 32;
  let source: ReturnType<typeof resnet18>;
  let target: ReturnType<typeof resnet18>;
  let input: tf.Tensor;

  beforeAll(() => {
    source = resnet18({ numClasses: 7, imageSize: size });
    target = resnet18({ numClasses: 7, imageSize: size });
    input = tf.randomNormal([2, size, size, 3], 0, 1, 'float32', 3);
  });
  afterAll(() => {
    source.dispose();
    target.dispose();
    input.dispose();
  });

  it('round-trips every weight through a torchvision-named state dict', () => {
    const file = stateDictOf(source);
    expect(file.tensors.has('layer3.0.downsample.1.running_var')).toBe(true);
    expect(file.tensors.get('conv1.weight')?.shape).toEqual([64, 3, 7, 7]);
    expect(file.tensors.get('fc.weight')?.shape).toEqual([7, 512]);
    const before = predictArray(target, input);
    const report = importTorchResNet18(target, file);
    expect(report.loaded.length).toBe(file.tensors.size);
    const expected = predictArray(source, input);
    const actual = predictArray(target, input);
    expect(Array.from(actual)).toEqual(Array.from(expected));
    expect(Array.from(actual)).not.toEqual(Array.from(before));
  });

  it('lists every missing, unexpected and mis-shaped tensor in one error and changes nothing', () => {
    const good = exportTorchStateDict(resnet18TorchBindings(source));
    const broken = { ...good };
    delete broken['layer2.1.bn1.running_mean'];
    delete broken['fc.bias'];
    broken['layer5.0.conv1.weight'] = { shape: [1], data: new Float32Array(1) };
    broken['conv1.weight'] = { shape: [64, 1, 7, 7], data: new Float32Array(64 * 49) };
    const fresh = resnet18({ numClasses: 7, imageSize: size });
    const before = predictArray(fresh, input);
    let error: unknown;
    try {
      importTorchResNet18(fresh, parseSafetensors(encodeSafetensors(broken)), { source: 'broken.safetensors' });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(TorchWeightImportError);
    const importError = error as TorchWeightImportError;
    expect(importError.missing).toEqual(['layer2.1.bn1.running_mean', 'fc.bias']);
    expect(importError.unexpected).toEqual(['layer5.0.conv1.weight']);
    expect(importError.misshaped).toEqual([{ name: 'conv1.weight', expected: [64, 3, 7, 7], actual: [64, 1, 7, 7] }]);
    expect(importError.message).toMatch(/broken\.safetensors/);
    expect(importError.message).toMatch(/conv1\.weight: file has \[64, 1, 7, 7\], model needs \[64, 3, 7, 7\]/);
    expect(Array.from(predictArray(fresh, input))).toEqual(Array.from(before));
    fresh.dispose();
  });

  it('loads a 1000-class file into a smaller-head network with skipHead, and into a prefixed branch', () => {
    const imagenetLike = resnet18({ numClasses: 1000, imageSize: size });
    const file = stateDictOf(imagenetLike, {});
    imagenetLike.dispose();
    const branch = resnet18({ numClasses: 7, imageSize: size, namePrefix: 'm1_' });
    expect(() => importTorchResNet18(branch, file, { namePrefix: 'm1_' })).toThrow(/fc\.weight: file has \[1000, 512\], model needs \[7, 512\]/);
    const report = importTorchResNet18(branch, file, { namePrefix: 'm1_', skipHead: true });
    expect(report.ignored).toEqual(expect.arrayContaining(['fc.weight', 'fc.bias']));
    expect(report.loaded).not.toContain('fc.weight');
    const stored = file.tensors.get('conv1.weight');
    if (!stored) throw new Error('conv1.weight missing from the exported file');
    const expected = torchToTfjs({ shape: stored.shape, data: stored.toFloat32() }, 'conv2d');
    const conv1 = branch.getLayer('m1_conv1').getWeights()[0];
    expect(conv1.shape).toEqual(expected.shape);
    expect(Array.from(conv1.dataSync())).toEqual(Array.from(expected.data));
    branch.dispose();
  });
});

describe('importTorchResNet18 against torchvision', () => {
  let workDir: string;
  beforeAll(() => {
    workDir = mkdtempSync(join(tmpdir(), 'mm-resnet18-torch-'));
  });
  afterAll(() => {
    rmSync(workDir, { recursive: true, force: true });
  });

  /**
   * torchvision.models.resnet18 (the real one, from python3-torchvision) with BatchNorm running
   * statistics from a real forward pass, perturbed; the same weights imported into resnet18();
   * `batch` different inputs. Returns the largest logit difference.
   */
  async function compare(numClasses: number, channels: number, height: number, width: number, batch: number) {
    const dir = join(workDir, `${numClasses}-${channels}-${height}x${width}`);
    const printed = JSON.parse(runReferenceScript(REFERENCE_SCRIPT, [dir, numClasses, channels, height, width, batch, 1], ['torch', 'torchvision']));
    expect(printed.torchvision).toMatch(/^0\.14\./);
    const weights = await readSafetensorsFile(join(dir, 'weights.safetensors'));
    const inputFile = await readSafetensorsFile(join(dir, 'input.safetensors'));
    const logitsFile = await readSafetensorsFile(join(dir, 'logits.safetensors'));
    const nchw = inputFile.tensors.get('input');
    const expected = logitsFile.tensors.get('logits');
    if (!nchw || !expected) throw new Error('reference script wrote incomplete files');
    const nhwc = channelsFirstToLast({ shape: nchw.shape, data: nchw.toFloat32() });

    const model = resnet18({ numClasses, channels, imageSize: [height, width] });
    expect(countParams(model)).toBe(printed.parameters);
    const report = importTorchResNet18(model, weights, { source: 'weights.safetensors' });
    // Every parameter and running statistic is loaded; only the BatchNorm step counters are left.
    expect(report.ignored.every((n) => n.endsWith('.num_batches_tracked'))).toBe(true);
    expect(report.loaded.length + report.ignored.length).toBe(weights.tensors.size);
    const input = tf.tensor(nhwc.data, nhwc.shape as number[]);
    const actual = predictArray(model, input);
    input.dispose();
    model.dispose();
    const reference = expected.toFloat32();
    const worst = maxAbsDifference(actual, reference);
    const apart = closestSamplePair(reference, batch);
    console.log(
      `resnet18 ${numClasses} classes, ${batch}×${channels}×${height}×${width}: max |logit difference| vs torchvision = ${worst.toExponential(2)}; ` +
        `logits of the closest two inputs differ by ${apart.toExponential(2)}`,
    );
    expect(worst).toBeLessThan(LOGIT_TOLERANCE);
    // The inputs matter: a model that ignored them could not pass.
    expect(apart).toBeGreaterThan(100 * LOGIT_TOLERANCE);
  }

  it('reproduces torchvision logits for the ImageNet configuration (1000 classes, 224×224 RGB)', async () => {
    await compare(1000, 3, 224, 224, 3);
  }, HEAVY_TEST_TIMEOUT);

  it('reproduces torchvision logits for odd sizes and one channel (PyTorch-style padding)', async () => {
    await compare(10, 1, 97, 65, 3);
  });
});
