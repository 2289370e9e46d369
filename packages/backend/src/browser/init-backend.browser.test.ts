import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { backendAttempts, initBackend, wasmThreadsInUse, type BackendChoice } from '../browser.js';
import { ALL_LOADERS, WASM_PATHS } from '../testing/browser/wasm-paths.js';

// Order matters within this file: a backend package, once loaded, stays registered with tfjs.
describe('initBackend in a browser', () => {
  it('rejects an unknown backend with the valid choices', async () => {
    await expect(initBackend({ backend: 'node' as BackendChoice, log: false })).rejects.toThrow(
      /options\.backend "node" is not a backend; use one of webgpu, webgl, wasm, cpu/,
    );
  });

  it('fails loudly when a forced backend was not shipped', async () => {
    await expect(initBackend({ backend: 'webgl', log: false })).rejects.toThrow(
      /Backend 'webgl' could not be loaded:\n {2}- webgl: @tensorflow\/tfjs-backend-webgl: not loaded \(import it, or pass loaders\.webgl\)/,
    );
  });

  it('skips what the page did not ship and says how to add it', async () => {
    const lines: string[] = [];
    const chosen = await initBackend({ loaders: { webgl: ALL_LOADERS.webgl, cpu: ALL_LOADERS.cpu }, log: (m) => lines.push(m) });
    expect(chosen).toBe('webgl');
    expect(tf.getBackend()).toBe('webgl');
    expect(backendAttempts()).toEqual([
      { backend: 'webgpu', ok: false, reason: '@tensorflow/tfjs-backend-webgpu: not loaded (import it, or pass loaders.webgpu)' },
      { backend: 'webgl', ok: true },
    ]);
    expect(lines).toEqual(['[@mm/backend] using webgl (best available); skipped: webgpu (@tensorflow/tfjs-backend-webgpu: not loaded (import it, or pass loaders.webgpu))']);
  });

  it('picks WebGPU when the browser has an adapter', async () => {
    // The test browser runs with a SwiftShader WebGPU adapter (scripts/browser-env.mjs).
    const gpu = (navigator as Navigator & { gpu?: { requestAdapter(): Promise<unknown> } }).gpu;
    expect(await gpu?.requestAdapter(), 'the test browser should expose a WebGPU adapter').toBeTruthy();
    expect(await initBackend({ loaders: ALL_LOADERS, log: false })).toBe('webgpu');
    expect(tf.getBackend()).toBe('webgpu');
  });

  it('runs wasm on every core of a cross-origin isolated page, with the training kernels', async () => {
    expect(crossOriginIsolated).toBe(true);
    const lines: string[] = [];
    expect(await initBackend({ backend: 'wasm', loaders: ALL_LOADERS, wasmPaths: WASM_PATHS, log: (m) => lines.push(m) })).toBe('wasm');
    const threads = Math.min(navigator.hardwareConcurrency, 8);
    expect(wasmThreadsInUse()).toBe(threads);
    expect(lines).toEqual([`[@mm/backend] using wasm (forced by option, ${threads} thread${threads > 1 ? 's' : ''})`]);
    expect(tf.getKernel('Conv2DBackpropFilter', 'wasm')).toBeDefined();
  });
});
