import { defineConfig } from 'vitest/config';
import { playwright } from '@vitest/browser-playwright';
import { CHROMIUM_ARGS, CHROMIUM_PATH, CROSS_ORIGIN_ISOLATION_HEADERS, serveFolders } from './scripts/browser-env.mjs';
import { mnistTestMounts } from './packages/datasets/src/colored-mnist/fetch.browser.setup.js';

// `pnpm test:browser` (scripts/run-browser-tests.mjs): the packages' browser code paths in real
// headless Chromium, and the example page built and driven end to end. Serial and small:
// SwiftShader renders WebGL/WebGPU on the CPU, which two test files at once would fight over.
export default defineConfig({
  test: {
    fileParallelism: false,
    projects: [
      {
        // Browser builds of the packages, from their TypeScript sources.
        resolve: { conditions: ['@mm/source', 'browser', 'module', 'import', 'default'] },
        ssr: { resolve: { conditions: ['@mm/source', 'import', 'node', 'default'] } },
        // Cross-origin isolated, as a page must be for wasm threads.
        server: { headers: CROSS_ORIGIN_ISOLATION_HEADERS },
        // MNIST files for the dataset tests, as a static host serves them.
        plugins: [serveFolders(mnistTestMounts(import.meta.dirname))],
        test: {
          name: 'packages-in-browser',
          include: ['packages/*/src/**/*.browser.test.ts'],
          testTimeout: 180_000,
          hookTimeout: 300_000,
          globalSetup: ['packages/datasets/src/colored-mnist/fetch.browser.setup.ts'],
          fileParallelism: false,
          browser: {
            enabled: true,
            headless: true,
            provider: playwright({ launchOptions: { executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS } }),
            instances: [{ browser: 'chromium' }],
            screenshotFailures: false,
          },
        },
      },
      {
        // The example page: built with Vite, served as a static host would, driven by Playwright.
        resolve: { conditions: ['@mm/source', 'module', 'import', 'node', 'default'] },
        ssr: { resolve: { conditions: ['@mm/source', 'import', 'node', 'default'] } },
        test: {
          name: 'example-page',
          include: ['examples/browser/src/**/*.page.test.ts'],
          // A build, then a few dozen training steps per backend on SwiftShader (CPU-rendered WebGL).
          testTimeout: 1_200_000,
          hookTimeout: 600_000,
          environment: 'node',
          pool: 'forks',
          fileParallelism: false,
        },
      },
    ],
  },
});
