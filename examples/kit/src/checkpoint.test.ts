import { existsSync, mkdtempSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { TrainerCheckpoint } from '@mm/balance';
import { checkpointDir, loadCheckpoint, saveCheckpoint } from './checkpoint.js';

const root = mkdtempSync(join(tmpdir(), 'kit-checkpoint-'));

function sample(step: number): TrainerCheckpoint {
  return {
    format: 'mm-balance-trainer/1',
    json: { step, epoch: 1, stepInEpoch: 0, stepsPerEpoch: 10, skippedSteps: 0, balancer: { name: 'vanilla', state: {} }, optimizer: { className: 'SGD', iterations: step, slots: 0 } },
    tensors: {
      'model/w': { shape: [2, 2], dtype: 'float32', data: Float32Array.from([1, 2, 3, step]) },
      'model/count': { shape: [], dtype: 'int32', data: Int32Array.from([step]) },
    },
  };
}

describe('run checkpoints', () => {
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('round-trips the trainer state, float32 and int32 tensors, the loop state and extra tensors', () => {
    const dir = join(root, 'a');
    expect(loadCheckpoint(dir)).toBeUndefined();
    saveCheckpoint(dir, { trainer: sample(5), loop: { epochs: [1, 2] }, extra: { 'best/w': { shape: [1], dtype: 'float32', data: Float32Array.from([9]) } } });
    const back = loadCheckpoint<{ epochs: number[] }>(dir)!;
    expect(back.trainer.json.step).toBe(5);
    expect(Array.from(back.trainer.tensors['model/w'].data)).toEqual([1, 2, 3, 5]);
    expect(back.trainer.tensors['model/count'].dtype).toBe('int32');
    expect(Array.from(back.trainer.tensors['model/count'].data)).toEqual([5]);
    expect(back.loop.epochs).toEqual([1, 2]);
    expect(Array.from(back.extra['best/w'].data)).toEqual([9]);
    // Replacing leaves exactly one complete folder, no temporary ones.
    saveCheckpoint(dir, { trainer: sample(6), loop: { epochs: [] }, extra: {} });
    expect(readdirSync(dir)).toEqual(['checkpoint']);
    expect(loadCheckpoint(dir)!.trainer.json.step).toBe(6);
  });

  it('puts back the previous checkpoint after a crash between the two renames', () => {
    const dir = join(root, 'b');
    saveCheckpoint(dir, { trainer: sample(7), loop: {}, extra: {} });
    renameSync(checkpointDir(dir), `${checkpointDir(dir)}.old-12345`);
    expect(existsSync(checkpointDir(dir))).toBe(false);
    expect(loadCheckpoint(dir)!.trainer.json.step).toBe(7);
  });

  it('names the damaged file and what to do', () => {
    const dir = join(root, 'c');
    saveCheckpoint(dir, { trainer: sample(1), loop: {}, extra: {} });
    writeFileSync(join(checkpointDir(dir), 'state.json'), '{"format": "mm-example-che');
    expect(() => loadCheckpoint(dir)).toThrow(/state\.json: not valid JSON.*truncated/);
    saveCheckpoint(dir, { trainer: sample(1), loop: {}, extra: {} });
    writeFileSync(join(checkpointDir(dir), 'tensors.safetensors'), Buffer.from([1, 2, 3]));
    expect(() => loadCheckpoint(dir)).toThrow(/tensors\.safetensors.*delete .*checkpoint to start the run over/);
  });
});
