import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '@mm/backend';
import { MODELNET40_CLASSES } from '@mm/datasets/modelnet40';
import { writeModelNet40Fixture } from '@mm/datasets/testing';
import { resolveParameterGroups } from '@mm/balance';
import { countParams, encodeSafetensors, exportTorchStateDict, fusedResNet18, resnet18, resnet18TorchBindings } from '@mm/models';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseArgs, UsageError } from './settings.js';
import { runModelNet40, type RunResults } from './train.js';

let base: string;
let data: string;
const quiet = () => undefined;

beforeAll(async () => {
  await initBackend({ backend: 'wasm', log: false });
  base = await mkdtemp(join(tmpdir(), 'mm-example-modelnet40-'));
  data = await writeModelNet40Fixture(join(base, 'data'), { classes: MODELNET40_CLASSES.slice(0, 3), trainPerClass: 4, testPerClass: 2, size: 32 });
});

afterAll(async () => {
  await rm(base, { recursive: true, force: true });
});

describe('modelnet40 CLI arguments', () => {
  it('says where to get the dataset when --data is missing', () => {
    expect(() => parseArgs([])).toThrow(UsageError);
    expect(() => parseArgs([])).toThrow(/--data is required/);
  });

  it('uses the paper settings by default and checks the views', () => {
    const settings = parseArgs(['--data', '/x']);
    expect(settings).toMatchObject({ method: 'guided', views: [0, 6], imageSize: 224, batchSize: 8, learningRate: 0.1, alpha: 0.01, windowSize: 5, plateauFactor: 0.3, plateauPatience: 10 });
    expect(parseArgs(['--data', '/x', '--views', '0,4,8']).views).toEqual([0, 4, 8]);
    expect(parseArgs(['--', '--data', '/x']).data).toBe('/x');
    expect(parseArgs(['--data', '/x', '--method', 'unimodal', '--views', '6,0']).views).toEqual([6]);
    expect(() => parseArgs(['--data', '/x', '--views', '0'])).toThrow(/at least two/);
    expect(() => parseArgs(['--data', '/x', '--views', '0,12'])).toThrow(/0…11/);
    expect(() => parseArgs(['--data', '/x', '--bogus', '1'])).toThrow(/unknown option --bogus/);
  });
});

describe('fused ResNet18 and @mm/balance', () => {
  it('splits into parameter groups from the naming alone, nothing unassigned or claimed twice', () => {
    const model = fusedResNet18({ numViews: 3, numClasses: 5, imageSize: 32 });
    const groups = resolveParameterGroups(model, { strict: true });
    expect(groups.numModalities).toBe(3);
    expect(groups.unassigned).toEqual([]);
    expect(groups.conflicts).toEqual([]);
    const sizes = groups.branch.map((vars) => vars.reduce((n, v) => n + v.shape.reduce((a: number, b) => a * (b ?? 1), 1), 0));
    expect(new Set(sizes).size).toBe(1);
    const branchTotal = sizes.reduce((a, b) => a + b, 0);
    const mmtm = model.layers.filter((l) => l.name.startsWith('mmtm_')).flatMap((l) => l.trainableWeights);
    const mmtmTotal = mmtm.reduce((n, v) => n + v.shape.reduce((a: number, b) => a * (b ?? 1), 1), 0);
    expect(branchTotal + mmtmTotal).toBe(countParams(model));
    // Every fusion group holds MMTM weights only (shared squeeze + its own excitation).
    expect(groups.fusion.every((vars) => vars.length > 0 && vars.every((v) => mmtm.includes(v)))).toBe(true);
    model.dispose();
  });
});

describe('runModelNet40 on a fixture tree', () => {
  it('trains guided, checkpoints atomically, resumes and reports', async () => {
    const out = join(base, 'guided');
    const settings = { ...parseArgs(['--data', data, '--image-size', '32', '--epochs', '2', '--batch-size', '4', '--lr', '0.01', '--out', out]), logEvery: 1000 };
    const tensorsBefore = tf.memory().numTensors;
    const partial = await runModelNet40(settings, 'wasm', { log: quiet, stopAfterEpochs: 1 });
    expect(partial.completed).toBe(false);
    expect(partial.epochs).toHaveLength(1);
    expect(JSON.parse(readFileSync(join(out, 'checkpoint', 'latest.json'), 'utf8')).epoch).toBe(1);
    // The interrupted run left no tensors behind (the model was disposed).
    expect(tf.memory().numTensors).toBe(tensorsBefore);

    await expect(runModelNet40({ ...settings, resume: true, seed: 1 }, 'wasm', { log: quiet })).rejects.toThrow(/--resume: the checkpoint .* was made with/);

    const lines: string[] = [];
    const results = await runModelNet40({ ...settings, resume: true }, 'wasm', { log: (l) => lines.push(l) });
    expect(lines.some((l) => l.startsWith('resumed from'))).toBe(true);
    expect(results.completed).toBe(true);
    expect(results.epochs.map((e) => e.epoch)).toEqual([1, 2]);
    expect(results.epochs[0]).toEqual(partial.epochs[0]);
    expect(results.epochs.every((e) => Number.isFinite(e.trainLoss) && e.samplesPerSecond > 0)).toBe(true);
    expect(results.test?.heads).toHaveLength(2);
    // Six test objects after two tiny epochs: a head may get all of them wrong, and then the
    // rate does not exist; the run must still finish and say why.
    const utilization = results.test?.utilization;
    if (utilization) expect(utilization.utilization.every(Number.isFinite)).toBe(true);
    else expect(results.test?.utilizationProblem).toMatch(/head \d: .*zero accuracy/);
    const written = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as RunResults;
    expect(written.completed).toBe(true);
    expect(written.dataset).toMatchObject({ train: results.dataset.train, test: 3 * 2, skipped: 0 });
    expect(readFileSync(join(out, 'report.svg'), 'utf8')).toMatch(/^<svg[\s\S]*validation accuracy[\s\S]*<\/svg>\n$/);
    expect(existsSync(join(out, 'best.safetensors'))).toBe(true);
    expect(tf.memory().numTensors).toBe(tensorsBefore);
  });

  it('trains the uni-modal SE baseline on one view, from torchvision-format weights', async () => {
    const out = join(base, 'unimodal');
    // A torchvision-named state dict (as exported from PyTorch) stands in for ImageNet weights.
    const source = resnet18({ numClasses: 1000, imageSize: 32 });
    const pretrained = join(base, 'resnet18.safetensors');
    writeFileSync(pretrained, encodeSafetensors(exportTorchStateDict(resnet18TorchBindings(source))));
    source.dispose();
    const settings = { ...parseArgs(['--data', data, '--method', 'unimodal', '--views', '6', '--image-size', '32', '--epochs', '1', '--batch-size', '4', '--out', out, '--pretrained', pretrained]), logEvery: 1000 };
    const lines: string[] = [];
    const results = await runModelNet40(settings, 'wasm', { log: (l) => lines.push(l) });
    expect(lines.some((l) => /^initialised 1 branch from .*resnet18\.safetensors \(100 tensors each/.test(l))).toBe(true);
    expect(results.model.inputs).toBe(1);
    expect(results.test?.heads).toHaveLength(1);
    expect(results.test?.utilization).toBeNull();
  });
});
