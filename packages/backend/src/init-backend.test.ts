import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { availableParallelism } from 'node:os';
import { backendAttempts, initBackend, MAX_WASM_THREADS, wasmThreadsInUse, type BackendChoice } from './index.js';

describe('initBackend', () => {
  it('picks the best backend that loads and says why better ones were skipped', async () => {
    const lines: string[] = [];
    const chosen = await initBackend({ env: {}, log: (m) => lines.push(m) });
    // tfjs-node(-gpu) cannot be installed without libtensorflow, so wasm is the best here.
    expect(chosen).toBe('wasm');
    expect(tf.getBackend()).toBe('wasm');
    const attempts = backendAttempts();
    expect(attempts.map((a) => a.backend)).toEqual(['node-gpu', 'node', 'wasm']);
    expect(attempts[0].ok).toBe(false);
    expect(attempts[0].reason).toContain('@tensorflow/tfjs-node-gpu');
    expect(lines).toHaveLength(1);
    // Without MM_WASM_THREADS (env is {}), wasm runs one thread per core.
    const threads = Math.min(availableParallelism(), MAX_WASM_THREADS);
    expect(wasmThreadsInUse()).toBe(threads);
    expect(lines[0]).toMatch(new RegExp(`using wasm \\(best available, ${threads} threads?\\); skipped: node-gpu .*node `));
    expect(tf.getKernel('Conv2DBackpropFilter', 'wasm')).toBeDefined();
  });

  it('honours the option over the environment variable', async () => {
    const chosen = await initBackend({ backend: 'cpu', env: { MM_BACKEND: 'wasm' }, log: false });
    expect(chosen).toBe('cpu');
    expect(tf.getBackend()).toBe('cpu');
  });

  it('honours MM_BACKEND', async () => {
    const lines: string[] = [];
    expect(await initBackend({ env: { MM_BACKEND: 'cpu' }, log: (m) => lines.push(m) })).toBe('cpu');
    expect(lines[0]).toContain('forced by MM_BACKEND');
  });

  it('rejects an unknown MM_BACKEND value with the valid choices', async () => {
    await expect(initBackend({ env: { MM_BACKEND: 'gpu' }, log: false })).rejects.toThrow(
      /MM_BACKEND=gpu is not a backend; use one of node-gpu, node, wasm, cpu/,
    );
  });

  it('rejects an unknown backend option with the valid choices, before touching tfjs', async () => {
    const before = tf.getBackend();
    await expect(initBackend({ backend: 'bogus' as BackendChoice, env: {}, log: false })).rejects.toThrow(
      /options\.backend "bogus" is not a backend; use one of node-gpu, node, wasm, cpu/,
    );
    expect(tf.getBackend()).toBe(before);
  });

  it('fails loudly when a forced backend cannot load', async () => {
    await expect(initBackend({ backend: 'node', env: {}, log: false })).rejects.toThrow(
      /Backend 'node' could not be loaded:[\s\S]*Install @tensorflow\/tfjs-node/,
    );
  });
});
