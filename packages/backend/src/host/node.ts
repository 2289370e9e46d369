import { createRequire } from 'node:module';
import v8 from 'node:v8';
import { Worker } from 'node:worker_threads';
import type { KernelHost } from './host.js';

const require = createRequire(import.meta.url);

export const host: KernelHost = {
  env: (name) => process.env[name],
  allowRelaxedSimd: () => {
    try {
      v8.setFlagsFromString('--experimental-wasm-relaxed-simd');
    } catch {
      // An engine without the flag: the plain build is used.
    }
  },
  canBlock: true,
  startPoolThread: (loopSource, data) => {
    const worker = new Worker(`(${loopSource})(require('node:worker_threads').workerData);`, {
      eval: true,
      // Not this process's loader flags (e.g. --import tsx): the worker runs plain JS.
      execArgv: [],
      workerData: data,
    });
    worker.unref();
  },
  tfjsCoreExports: () => {
    try {
      return require('@tensorflow/tfjs-core') as Record<string, unknown>;
    } catch {
      return undefined;
    }
  },
};
