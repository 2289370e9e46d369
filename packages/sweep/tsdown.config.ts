import { defineConfig } from 'tsdown';

// One entry per subpath export in package.json, plus the sandboxed processor: workers fork a
// process that imports dist/processor.js by path.
export default defineConfig({
  entry: {
    index: 'src/index.ts',
    testing: 'src/testing.ts',
    processor: 'src/processor.ts',
  },
  format: 'esm',
  dts: true,
  sourcemap: true,
  clean: true,
  fixedExtension: false,
});
