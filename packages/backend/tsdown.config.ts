import { defineConfig } from 'tsdown';

const common = { format: 'esm', dts: true, sourcemap: true, fixedExtension: false } as const;

// Two builds: `#kernel-host` resolves to the Node host in index.js and to the browser host
// in browser.js (the `browser` condition), so the browser build has no `node:` import.
export default defineConfig([
  { ...common, entry: ['src/index.ts'], platform: 'node', clean: true },
  { ...common, entry: ['src/browser.ts'], platform: 'browser', clean: false },
]);
