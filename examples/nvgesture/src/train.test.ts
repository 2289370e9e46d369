import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initBackend } from '@mm/backend';
import { writeNvGestureFixture } from '@mm/datasets/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixtureSamples } from './make-fixture.js';
import { parseArgs, UsageError } from './settings.js';
import { runNvGesture, type RunResults } from './train.js';

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
    expect(parseArgs(['--data', 'x']).out).toBe('runs/nvgesture-guided');
    expect(() => parseArgs(['--data', 'x', '--method', 'greedy'])).toThrow(/--method/);
  });
});

describe('runNvGesture on a generated fixture', () => {
  it('trains the fused I3D (guided), checkpoints, resumes, and reports test accuracy and d_util', async () => {
    const out = join(root, 'out');
    const args = ['--data', join(root, 'data'), '--out', out, '--method', 'guided', '--frames', '8', '--size', '32', '--batch-size', '2', '--epochs', '2', '--log-every', '1'];
    const settings = parseArgs(args);
    const lines: string[] = [];
    const partial = await runNvGesture(settings, 'wasm', { log: (l) => lines.push(l), stopAfterEpochs: 1 });
    expect(partial.completed).toBe(false);
    expect(existsSync(join(out, 'checkpoint', 'state.json'))).toBe(true);
    expect(existsSync(join(out, 'checkpoint', 'optimizer.safetensors'))).toBe(true);
    const final = await runNvGesture(parseArgs([...args, '--resume']), 'wasm', { log: (l) => lines.push(l) });
    expect(lines.some((l) => l.startsWith('resumed from'))).toBe(true);
    expect(final.completed).toBe(true);
    expect(final.epochs.map((e) => e.epoch)).toEqual([1, 2]);
    expect(final.epochs.every((e) => Number.isFinite(e.trainLoss) && e.clipsPerSecond > 0)).toBe(true);
    expect(final.dataset.train + final.dataset.validation).toBe(TRAIN);
    expect(final.test?.samples).toBe(TEST);
    expect(final.test?.heads).toHaveLength(2);
    // Two epochs on a few clips may leave a head at zero test accuracy, where u(·|m_k) is undefined:
    // then the reason is recorded instead of a number.
    const utilization = final.test?.utilization;
    if (utilization) expect(Number.isFinite(utilization.dUtil)).toBe(true);
    else expect(final.test?.utilizationProblem).toMatch(/zero accuracy/);
    const written = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as RunResults;
    expect(written.completed).toBe(true);
    const report = readFileSync(join(out, 'report.md'), 'utf8');
    expect(report).toMatch(/^# NVGesture — guided/);
    expect(report).toMatch(/\*\*Test\*\*/);
  });
});
