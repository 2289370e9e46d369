import { defineConfig } from 'tsdown';

const common = { format: 'esm', dts: true, sourcemap: true, fixedExtension: false } as const;

// Two builds: index.js with the Node file reader, browser.js (the `browser` condition) without
// it, so the browser build has no `node:` import.
export default defineConfig([
  { ...common, entry: ['src/index.ts'], platform: 'node', clean: true },
  { ...common, entry: ['src/browser.ts'], platform: 'browser', clean: false },
]);
