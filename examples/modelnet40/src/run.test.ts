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
import { parseCli, UsageError } from '@mm/example-kit';
import { CLI, configFromCli } from './config.js';
import { run, type ModelNet40Results } from './run.js';

const parseArgs = (argv: string[]) => configFromCli(parseCli(CLI, argv).values);

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
    expect(() => parseArgs(['--data', '/x', '--bogus', '1'])).toThrow(/Unknown option '--bogus'/);
    expect(() => parseArgs(['--data', '/x', '--method', 'greedy'])).toThrow(/--method must be one of vanilla, random, guided, unimodal/);
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
  it('trains guided, checkpoints atomically, resumes after a crash and reports', async () => {
    const dir = join(base, 'guided');
    const config = parseArgs(['--data', data, '--image-size', '32', '--epochs', '2', '--batch-size', '4', '--lr', '0.01']);
    const tensorsBefore = tf.memory().numTensors;
    const crash = new Error('simulated crash after the first epoch');
    await expect(run(config, { dir, backend: 'wasm', onEpoch: (e) => { if (e.epoch === 0) throw crash; } })).rejects.toBe(crash);
    // The interrupted run left no tensors behind (trainer and model were disposed).
    expect(tf.memory().numTensors).toBe(tensorsBefore);
    expect(existsSync(join(dir, 'checkpoint', 'state.json'))).toBe(false); // the crash came before the first checkpoint
    const firstEpochOnly = await run({ ...config, epochs: 1 }, { dir: join(base, 'one-epoch'), backend: 'wasm' });
    expect(firstEpochOnly.epochs).toHaveLength(1);

    // Crash after the first checkpoint, then resume.
    const crashAfterCheckpoint = new Error('simulated crash in the second epoch');
    await expect(run(config, { dir, backend: 'wasm', onEpoch: (e) => { if (e.epoch === 1) throw crashAfterCheckpoint; } })).rejects.toBe(crashAfterCheckpoint);
    expect(existsSync(join(dir, 'checkpoint', 'state.json'))).toBe(true);
    await expect(run({ ...config, seed: 1 }, { dir, backend: 'wasm' })).rejects.toThrow(/was made with other settings/);
    const results = await run(config, { dir, backend: 'wasm' });
    expect(results.epochs.map((e) => e.epoch)).toEqual([0, 1]);
    expect(results.epochs[0].meanLoss).toBeCloseTo(firstEpochOnly.epochs[0].meanLoss, 5);
    expect(results.epochs.every((e) => Number.isFinite(e.meanLoss))).toBe(true);
    expect(results.test.modalityAccuracy).toHaveLength(2);
    // Six test objects after two tiny epochs: a head may get all of them wrong, and then the
    // rate does not exist; the run must still finish and say why.
    if (results.utilization) expect(results.utilization.utilization.every(Number.isFinite)).toBe(true);
    else expect(results.utilizationProblem).toMatch(/head \d: .*zero accuracy/);
    const written = JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8')) as ModelNet40Results;
    expect(written.dataset).toMatchObject({ train: results.dataset.train, test: 3 * 2, skipped: 0 });
    expect(readFileSync(join(dir, 'validation-accuracy.svg'), 'utf8')).toMatch(/^<svg[\s\S]*Validation accuracy[\s\S]*<\/svg>/);
    expect(existsSync(join(dir, 'report.html'))).toBe(true);
    expect(tf.memory().numTensors).toBe(tensorsBefore);
  }, 600_000); // trains two epochs three times over: minutes on a busy 2-core machine

  it('trains the uni-modal SE baseline on one view, from torchvision-format weights', async () => {
    const dir = join(base, 'unimodal');
    // A torchvision-named state dict (as exported from PyTorch) stands in for ImageNet weights.
    const source = resnet18({ numClasses: 1000, imageSize: 32 });
    const pretrained = join(base, 'resnet18.safetensors');
    writeFileSync(pretrained, encodeSafetensors(exportTorchStateDict(resnet18TorchBindings(source))));
    source.dispose();
    const config = parseArgs(['--data', data, '--method', 'unimodal', '--views', '6', '--image-size', '32', '--epochs', '1', '--batch-size', '4', '--pretrained', pretrained]);
    const lines: string[] = [];
    const results = await run(config, { dir, backend: 'wasm', log: (l) => lines.push(l) });
    expect(lines.some((l) => /^initialised 1 branch from .*resnet18\.safetensors \(100 tensors each/.test(l))).toBe(true);
    expect(results.model.inputs).toBe(1);
    expect(results.test.modalityAccuracy).toHaveLength(1);
    expect(results.utilization).toBeNull();
  });
});
