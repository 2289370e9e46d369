import { defineConfig } from 'vite';
import { CROSS_ORIGIN_ISOLATION_HEADERS } from '../../scripts/browser-env.mjs';

// A static page: `vite build` writes dist/, which any static host can serve (relative paths, so
// also from a sub-folder). The workspace packages are bundled from their TypeScript sources.
export default defineConfig({
  base: './',
  resolve: { conditions: ['@mm/source', 'module', 'browser', 'development|production'] },
  // Cross-origin isolation lets the wasm backend use threads (see public/_headers for hosts).
  server: { headers: CROSS_ORIGIN_ISOLATION_HEADERS },
  preview: { headers: CROSS_ORIGIN_ISOLATION_HEADERS },
  // The worker loads each tfjs backend as its own chunk, which only ES-module workers can.
  worker: { format: 'es' },
  build: { target: 'es2022', chunkSizeWarningLimit: 2500 },
});
