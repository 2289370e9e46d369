import fc from 'fast-check';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { initBackend } from '@mm/backend';
import { BalancedTrainer } from '@mm/balance';
import type { MultiModalBatch } from '@mm/datasets';
import { toLabeledBatch } from '@mm/metrics';
import { encodeSafetensors, parseSafetensors } from '@mm/models';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkpointDir, loadCheckpoint, RunCheckpointError, saveCheckpoint } from './checkpoint.js';
import { trainEpochs } from './train-loop.js';

const root = mkdtempSync(join(tmpdir(), 'kit-checkpoint-fuzz-'));
let run: string;
let stateText: string;
let tensorBytes: Uint8Array;

beforeAll(async () => {
  await initBackend({ backend: 'wasm', log: false });
  run = join(root, 'trained');
  await train(run, 2);
  stateText = readFileSync(join(checkpointDir(run), 'state.json'), 'utf8');
  tensorBytes = readFileSync(join(checkpointDir(run), 'tensors.safetensors'));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** Two dense encoders, concatenated, one classifier: the smallest model the trainer knows. */
function tinyModel(): tfl.LayersModel {
  const inputs = [0, 1].map((k) => tfl.input({ shape: [4], name: `x${k}` }));
  const features = inputs.map((x, k) => tfl.layers.dense({ name: `enc${k}_dense`, units: 3, activation: 'relu', kernelInitializer: tfl.initializers.glorotUniform({ seed: k + 1 }) }).apply(x) as tfl.SymbolicTensor);
  const merged = tfl.layers.concatenate({ name: 'merge' }).apply(features) as tfl.SymbolicTensor;
  const head = tfl.layers.dense({ name: 'classifier', units: 3, kernelInitializer: tfl.initializers.glorotUniform({ seed: 9 }) }).apply(merged) as tfl.SymbolicTensor;
  return tfl.model({ inputs, outputs: head });
}

function batches(seed: number, count: number): MultiModalBatch[] {
  return Array.from({ length: count }, (_, b) => {
    const labels = Int32Array.from({ length: 6 }, (_, i) => (i + b + seed) % 3);
    const input = (k: number) => Float32Array.from({ length: 24 }, (_, i) => labels[Math.floor(i / 4)] + 0.1 * Math.sin(i + 7 * b + k + seed));
    return { modalities: ['a', 'b'], inputs: [input(0), input(1)], sampleShapes: [[4], [4]], labels, size: 6, indices: Int32Array.from({ length: 6 }, (_, i) => i) };
  });
}

/** Trains (or resumes) the tiny run in `dir` for `epochs`; returns the epoch losses. */
async function train(dir: string, epochs: number): Promise<number[]> {
  const trainer = new BalancedTrainer({ model: tinyModel(), optimizer: tf.train.momentum(0.05, 0.9), warn: () => {} });
  try {
    const result = await trainEpochs({ trainer, dir, epochs, stepsPerEpoch: 3, trainBatches: (e) => batches(e, 3), validation: () => batches(100, 1).map(toLabeledBatch), identity: { tiny: 1 } });
    return result.epochs.map((e) => e.meanLoss);
  } finally {
    trainer.dispose();
    trainer.model.dispose();
  }
}

/** A run folder holding the trained checkpoint with its files replaced. */
function damagedRun(name: string, state: string = stateText, tensors: Uint8Array = tensorBytes): string {
  const dir = join(root, name);
  rmSync(dir, { recursive: true, force: true });
  saveCheckpoint(dir, { trainer: loadCheckpoint(run)!.trainer, loop: {}, extra: {} });
  writeFileSync(join(checkpointDir(dir), 'state.json'), state);
  writeFileSync(join(checkpointDir(dir), 'tensors.safetensors'), tensors);
  return dir;
}

/** Resuming from the folder: a RunCheckpointError naming the file, or (for an intact copy) the finished run. */
async function resumeOutcome(dir: string): Promise<RunCheckpointError | number[]> {
  try {
    return await train(dir, 3);
  } catch (error) {
    if (!(error instanceof RunCheckpointError)) throw error;
    expect(error.message).toContain(error.file);
    expect(error.message).toMatch(/delete .*checkpoint to start the run over$/);
    return error;
  }
}

describe('run checkpoints, damaged', () => {
  it('state.json cut at any byte: a RunCheckpointError naming it', async () => {
    let n = 0;
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: stateText.length - 1 }), async (cut) => {
        const result = await resumeOutcome(damagedRun(`cut-state-${n++}`, stateText.slice(0, cut)));
        expect(result).toBeInstanceOf(RunCheckpointError);
        expect((result as RunCheckpointError).file).toMatch(/state\.json$/);
      }),
      { numRuns: Math.max(10, Math.round(fc.readConfigureGlobal().numRuns! / 5)) },
    );
  });

  it('tensors.safetensors cut or overwritten anywhere: a RunCheckpointError naming it, or a checkpoint that still resumes', async () => {
    let n = 0;
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: tensorBytes.length - 1 }), fc.option(fc.integer({ min: 0, max: 255 })), async (at, value) => {
        const bytes = value === null ? tensorBytes.slice(0, at) : Uint8Array.from(tensorBytes, (b, i) => (i === at ? value : b));
        const result = await resumeOutcome(damagedRun(`damaged-tensors-${n++}`, stateText, bytes));
        // An overwritten byte inside a float is another float: the trainer's finiteness check
        // refuses NaN/Infinity, other values are indistinguishable from a trained weight.
        if (result instanceof RunCheckpointError) expect(result.file).toMatch(/state\.json$|tensors\.safetensors$/);
        else expect(value).not.toBeNull();
      }),
      { numRuns: Math.max(10, Math.round(fc.readConfigureGlobal().numRuns! / 5)) },
    );
  });

  it('from another version, truncated, tampered shapes, values and loop state: RunCheckpointError naming the file and the problem', async () => {
    const state = JSON.parse(stateText) as Record<string, any>;
    const withState = (change: (s: Record<string, any>) => void) => {
      const s = structuredClone(state);
      change(s);
      return JSON.stringify(s);
    };
    const tensors = parseSafetensors(tensorBytes);
    const withTensors = (change: (t: Record<string, { shape: number[]; data: Float32Array | Int32Array }>) => void) => {
      const t = Object.fromEntries([...tensors.tensors].map(([name, v]) => [name, { shape: [...v.shape], data: v.dtype === 'I32' ? new Int32Array(new Uint8Array(v.bytes).buffer) : v.toFloat32() }]));
      change(t);
      return encodeSafetensors(t);
    };
    const kernel = [...tensors.tensors.keys()].find((n) => n.startsWith('trainer/model/') && n.endsWith('kernel'))!;
    const cases: [string, string, Uint8Array, RegExp][] = [
      ['another version', withState((s) => (s.format = 'mm-example-checkpoint/0')), tensorBytes, /state\.json: not a checkpoint of this version \(format "mm-example-checkpoint\/0"/],
      ['null', 'null', tensorBytes, /state\.json: holds null, not a checkpoint/],
      ['no loop state', withState((s) => delete s.loop), tensorBytes, /lacks the trainer state, its format or the loop state/],
      ['a trainer of another version', withState((s) => (s.trainerFormat = 'mm-balance-trainer/0')), tensorBytes, /state\.json: not a trainer checkpoint of this version/],
      ['a negative step', withState((s) => (s.trainer.step = -1)), tensorBytes, /the last epoch log ends at step 6, the trainer's state at step -1/],
      ['epoch logs cut', withState((s) => (s.loop.epochs = s.loop.epochs.slice(0, 1))), tensorBytes, /the last epoch log ends at step 3, the trainer's state at step 6/],
      ['epoch logs not a list', withState((s) => (s.loop.epochs = {})), tensorBytes, /the loop state has no list of epoch logs/],
      ['a best epoch that was not trained', withState((s) => (s.loop.best.epoch = 7)), tensorBytes, /the best epoch .* is not one of the 2 epochs/],
      ['a transposed kernel', stateText, withTensors((t) => (t[kernel].shape = [...t[kernel].shape].reverse())), /state\.json: checkpoint tensor model\/.*kernel has shape/],
      ['an infinite weight', stateText, withTensors((t) => (t[kernel].data[1] = Number.POSITIVE_INFINITY)), /holds Infinity at index 1/],
      ['best weights of another shape', stateText, withTensors((t) => (t[`extra/best/${kernel.slice('trainer/model/'.length)}`].shape = [1, 12])), /the best weight .*kernel has shape \[1,12\]/],
      ['a stranger tensor', stateText, withTensors((t) => (t.other = { shape: [1], data: Float32Array.of(1) })), /tensors\.safetensors: unexpected tensor 'other'/],
    ];
    for (const [what, s, t, message] of cases) {
      const result = await resumeOutcome(damagedRun(`case-${what.replaceAll(' ', '-')}`, s, t));
      expect(result, what).toBeInstanceOf(RunCheckpointError);
      expect((result as Error).message, what).toMatch(message);
    }
  });

  it('a finished run whose last write was killed while deleting the previous folder: resuming removes the half-deleted copy', async () => {
    const dir = join(root, 'killed-in-clean-up');
    const straight = await train(dir, 3);
    // What the kill left: the new checkpoint in place, half of the previous one beside it.
    const halfDeleted = `${checkpointDir(dir)}.old-4242`;
    mkdirSync(halfDeleted);
    writeFileSync(join(halfDeleted, 'tensors.safetensors'), tensorBytes.subarray(0, 100));
    expect(await train(dir, 3)).toEqual(straight);
    expect(readdirSync(dir)).toEqual(['checkpoint']);
  });

  it('an intact copy resumes to the same losses as an uninterrupted run', async () => {
    const straight = await train(join(root, 'straight'), 3);
    expect(await resumeOutcome(damagedRun('intact'))).toEqual(straight.map((l) => expect.closeTo(l, 6)));
  });
});
