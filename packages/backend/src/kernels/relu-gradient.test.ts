import { beforeAll, expect } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { initBackend } from '../init-backend.js';
import { simdModuleFor } from './simd/simd-module.js';
import { describeReluGradient } from '../testing/relu-gradient-suite.js';

beforeAll(async () => {
  await initBackend({ backend: 'wasm', threads: 1, env: {}, log: false });
  // The kernel module must be on (else the suite would compare tfjs-core with itself), with no pool.
  expect(simdModuleFor(tf.backend() as BackendWasm)?.threads).toBe(1);
});

describeReluGradient(1);
