import * as fs from 'node:fs';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import type { TrainerCheckpoint } from '@mm/balance';
import { checkpointDir, loadCheckpoint, saveCheckpoint } from './checkpoint.js';
import { recoverDirectory, writeDirectoryAtomically, writeFileAtomically } from './files.js';

/** A failure injected into the next matching fs call: a full disk or a read-only folder, where a real one is impractical. */
let inject: { call: 'writeFileSync' | 'mkdirSync'; when: (path: string) => boolean; code: string } | undefined;

vi.mock('node:fs', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:fs')>();
  const failing =
    <F extends (...args: never[]) => unknown>(call: 'writeFileSync' | 'mkdirSync', original: F) =>
    (...args: Parameters<F>): ReturnType<F> => {
      const path = String(args[0]);
      if (inject?.call === call && inject.when(path)) {
        const error = new Error(`${inject.code}: injected failure, ${call} '${path}'`) as NodeJS.ErrnoException;
        error.code = inject.code;
        throw error;
      }
      return original(...args) as ReturnType<F>;
    };
  return { ...real, writeFileSync: failing('writeFileSync', real.writeFileSync), mkdirSync: failing('mkdirSync', real.mkdirSync) };
});

const root = mkdtempSync(join(tmpdir(), 'kit-files-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
afterEach(() => {
  inject = undefined;
});

function sample(step: number): TrainerCheckpoint {
  return {
    format: 'mm-balance-trainer/1',
    json: { step, epoch: 1, stepInEpoch: 0, stepsPerEpoch: 10, skippedSteps: 0, balancer: { name: 'vanilla', state: {} }, optimizer: { className: 'SGD', iterations: step, slots: 0 } },
    tensors: { 'model/w': { shape: [2], dtype: 'float32', data: Float32Array.from([step, 1]) } },
  };
}

describe('writeDirectoryAtomically after killed writers', () => {
  it('clears the leftovers of writers killed mid-write or mid-clean-up, so a later recovery finds only a complete folder', () => {
    const run = join(root, 'leftovers');
    saveCheckpoint(run, { trainer: sample(1), loop: {}, extra: {} });
    // A writer killed while deleting the previous folder left half of it; one killed while
    // writing left half of a new one.
    mkdirSync(`${checkpointDir(run)}.old-111`);
    writeFileSync(join(`${checkpointDir(run)}.old-111`, 'state.json'), '{"format": "mm-exa');
    mkdirSync(`${checkpointDir(run)}.tmp-222`);
    saveCheckpoint(run, { trainer: sample(2), loop: {}, extra: {} });
    expect(readdirSync(run).sort()).toEqual(['checkpoint']);
    expect(loadCheckpoint(run)!.trainer.json.step).toBe(2);
  });

  it('puts back the one previous folder when the writer died between the two renames', () => {
    const dir = join(root, 'between', 'checkpoint');
    writeDirectoryAtomically(dir, { 'a.txt': 'first' });
    fs.renameSync(dir, `${dir}.old-333`);
    mkdirSync(`${dir}.tmp-333`);
    recoverDirectory(dir);
    expect(fs.readFileSync(join(dir, 'a.txt'), 'utf8')).toBe('first');
    writeDirectoryAtomically(dir, { 'a.txt': 'second' });
    expect(readdirSync(join(root, 'between'))).toEqual(['checkpoint']);
  });
});

describe('disk full and read-only output folders', () => {
  it('disk full while writing the tensors: a clear error, the last good checkpoint kept and readable, nothing left over', () => {
    const run = join(root, 'full');
    saveCheckpoint(run, { trainer: sample(4), loop: { epochs: 4 }, extra: {} });
    inject = { call: 'writeFileSync', when: (p) => p.endsWith('tensors.safetensors'), code: 'ENOSPC' };
    expect(() => saveCheckpoint(run, { trainer: sample(5), loop: { epochs: 5 }, extra: {} })).toThrow(
      /cannot write .*checkpoint: ENOSPC.*\(the disk is full: free some space, then resume the run\); the previous checkpoint folder is kept/,
    );
    inject = undefined;
    expect(readdirSync(run)).toEqual(['checkpoint']);
    const kept = loadCheckpoint<{ epochs: number }>(run)!;
    expect(kept.trainer.json.step).toBe(4);
    expect(kept.loop.epochs).toBe(4);
  });

  it('a folder that became read-only: a clear error, the last good checkpoint kept', () => {
    const run = join(root, 'readonly');
    saveCheckpoint(run, { trainer: sample(7), loop: {}, extra: {} });
    inject = { call: 'mkdirSync', when: (p) => p.includes('checkpoint.tmp-'), code: 'EROFS' };
    expect(() => saveCheckpoint(run, { trainer: sample(8), loop: {}, extra: {} })).toThrow(/EROFS.*\(the folder is not writable: fix its permissions, or choose another output folder\); the previous checkpoint folder is kept/);
    inject = undefined;
    expect(loadCheckpoint(run)!.trainer.json.step).toBe(7);
  });

  it('a single file (results, config) on a full disk: a clear error, the old file kept, no temporary file', () => {
    const file = join(root, 'results.json');
    writeFileAtomically(file, 'old');
    inject = { call: 'writeFileSync', when: (p) => p.startsWith(`${file}.tmp-`), code: 'ENOSPC' };
    expect(() => writeFileAtomically(file, 'new')).toThrow(/cannot write .*results\.json: ENOSPC.*disk is full/);
    expect(fs.readFileSync(file, 'utf8')).toBe('old');
    expect(readdirSync(root).filter((n) => n.startsWith('results.json'))).toEqual(['results.json']);
    expect(existsSync(`${file}.tmp-${process.pid}`)).toBe(false);
  });
});
