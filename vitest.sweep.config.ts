import { defineConfig } from 'vitest/config';
import base from './vitest.config.js';

// The sweep tests (`*.sweep.test.ts`): real Redis (redis-server, started by the tests on a free
// loopback port) and real worker processes. One file at a time: each starts its own processes.
export default defineConfig({
  ...base,
  test: {
    ...base.test,
    include: ['packages/*/src/**/*.sweep.test.ts', 'examples/*/src/**/*.sweep.test.ts'],
    exclude: [],
    maxWorkers: 1,
    testTimeout: 300_000,
    hookTimeout: 300_000,
  },
});
