import { configDefaults, defineConfig } from 'vitest/config';

// Tests run against the TypeScript sources of the workspace packages through the
// "@mm/source" export condition, so no build is needed before `pnpm test`.
export default defineConfig({
  resolve: { conditions: ['@mm/source', 'module', 'import', 'node', 'default'] },
  ssr: { resolve: { conditions: ['@mm/source', 'import', 'node', 'default'] } },
  test: {
    include: ['packages/*/src/**/*.test.ts', 'examples/*/src/**/*.test.ts', 'benchmarks/*/src/**/*.test.ts'],
    // Tests on a real Redis with worker processes run on their own: `pnpm test:sweep`; browser
    // tests run in headless Chromium: `pnpm test:browser` (vitest.browser.config.ts).
    exclude: [...configDefaults.exclude, '**/*.sweep.test.ts', '**/*.browser.test.ts', '**/*.page.test.ts'],
    environment: 'node',
    // tfjs keeps global engine state; isolate per file, run few files at once on 2 cores.
    pool: 'forks',
    maxWorkers: 2,
    // Two test files at once already fill both cores; threaded wasm on top would oversubscribe
    // them. The threaded backend is tested where a test asks for it (`threads` / `env: {}`).
    env: { MM_WASM_THREADS: '1' },
    // fast-check case counts (FUZZ_RUNS, FUZZ_SEED): see RELIABILITY.md.
    setupFiles: ['scripts/fuzz-setup.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
