import { beforeAll } from 'vitest';
import { initBackend } from '../init-backend.js';
import { describeReluGradient } from '../testing/relu-gradient-suite.js';

beforeAll(async () => {
  await initBackend({ backend: 'wasm', threads: 1, env: {}, log: false });
});

describeReluGradient(1);
