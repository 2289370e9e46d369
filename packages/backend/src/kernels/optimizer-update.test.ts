import '@tensorflow/tfjs-backend-wasm';
import { beforeAll } from 'vitest';
import { initBackend } from '../init-backend.js';
import { describeOptimizerUpdate } from '../testing/optimizer-update-suite.js';

beforeAll(async () => {
  await initBackend({ backend: 'wasm', threads: 1, env: {}, log: false });
});

describeOptimizerUpdate(1);
