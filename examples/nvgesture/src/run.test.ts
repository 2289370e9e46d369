import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initBackend } from '@mm/backend';
import { writeNvGestureFixture } from '@mm/datasets/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixtureSamples } from './make-fixture.js';
import * as tf from '@tensorflow/tfjs-core';
import { parseCli, UsageError } from '@mm/example-kit';
import { CLI, configFromCli } from './config.js';
import { run, type NvGestureResults } from './run.js';

const parseArgs = (argv: string[]) => configFromCli(parseCli(CLI, argv).values);

let root: string;
const TRAIN = 5;
const TEST = 2;

beforeAll(async () => {
  await initBackend({ backend: 'wasm', log: false });
  root = mkdtempSync(join(tmpdir(), 'nvgesture-example-'));
  await writeNvGestureFixture(join(root, 'data'), fixtureSamples({ train: TRAIN, test: TEST }), { width: 48, height: 40 });
});

afterAll(() => {
  rmSync(root, { recursive: true, force: true });
});

describe('settings', () => {
  it('without --data says where to get NVGesture', () => {
    expect(() => parseArgs([])).toThrow(UsageError);
    expect(() => parseArgs([])).toThrow(/--data DIR is required[\s\S]*research\.nvidia\.com/);
    expect(parseArgs(['--data', 'x'])).toMatchObject({ method: 'guided', frames: 64, size: 224, batchSize: 4, learningRate: 0.01, momentum: 0.9, alpha: 0.1, windowSize: 5 });
    expect(() => parseArgs(['--data', 'x', '--method', 'greedy'])).toThrow(/--method must be one of vanilla, random, guided, unimodal/);
  });
});

describe('runNvGesture on a generated fixture', () => {
  it('trains the fused I3D (guided), checkpoints, resumes after a crash, and reports test accuracy and d_util', async () => {
    const dir = join(root, 'out');
    const config = parseArgs(['--data', join(root, 'data'), '--method', 'guided', '--frames', '8', '--size', '32', '--batch-size', '2', '--epochs', '2']);
    const tensorsBefore = tf.memory().numTensors;
    const crash = new Error('simulated crash in the second epoch');
    await expect(run(config, { dir, backend: 'wasm', onEpoch: (e) => { if (e.epoch === 1) throw crash; } })).rejects.toBe(crash);
    expect(existsSync(join(dir, 'checkpoint', 'tensors.safetensors'))).toBe(true);
    const lines: string[] = [];
    const final = await run(config, { dir, backend: 'wasm', log: (l) => lines.push(l) });
    expect(lines.filter((l) => l.startsWith('epoch '))).toHaveLength(1); // only the second epoch ran again
    expect(final.epochs.map((e) => e.epoch)).toEqual([0, 1]);
    expect(final.epochs.every((e) => Number.isFinite(e.meanLoss))).toBe(true);
    expect(final.dataset.train + final.dataset.validation).toBe(TRAIN);
    expect(final.test.samples).toBe(TEST);
    expect(final.test.modalityAccuracy).toHaveLength(2);
    // Two epochs on a few clips may leave a head at zero test accuracy, where u(·|m_k) is undefined:
    // then the reason is recorded instead of a number.
    if (final.utilization) expect(Number.isFinite(final.utilization.dUtil)).toBe(true);
    else expect(final.utilizationProblem).toMatch(/zero accuracy/);
    const written = JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8')) as NvGestureResults;
    expect(written.settings.method).toBe('guided');
    expect(readFileSync(join(dir, 'report.html'), 'utf8')).toMatch(/NVGesture — guided/);
    expect(tf.memory().numTensors).toBe(tensorsBefore);
  }, 600_000); // trains two epochs three times over: minutes on a busy 2-core machine
});
