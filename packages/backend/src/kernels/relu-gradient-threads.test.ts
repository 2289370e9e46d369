import { beforeAll, expect } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { initBackend } from '../init-backend.js';
import { simdModuleFor } from './simd/simd-module.js';
import { describeReluGradient } from '../testing/relu-gradient-suite.js';

beforeAll(async () => {
  await initBackend({ backend: 'wasm', threads: 2, env: {}, log: false });
  // The pass must really be split across a pool, not quietly run on one thread.
  expect(simdModuleFor(tf.backend() as BackendWasm)?.threads).toBe(2);
});

describeReluGradient(2);
