import { defineConfig } from 'tsdown';

// One entry per subpath export in package.json.
export default defineConfig({
  entry: {
    index: 'src/index.ts',
    'colored-mnist': 'src/colored-mnist/index.ts',
    modelnet40: 'src/modelnet40/index.ts',
    nvgesture: 'src/nvgesture/index.ts',
    testing: 'src/testing.ts',
  },
  format: 'esm',
  dts: true,
  sourcemap: true,
  clean: true,
  fixedExtension: false,
});
