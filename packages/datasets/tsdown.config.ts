import { defineConfig } from 'tsdown';

const common = { format: 'esm', dts: true, sourcemap: true, fixedExtension: false } as const;

// One entry per subpath export in package.json; the browser condition of `./colored-mnist` is
// a separate build so that its graph holds no Node module.
export default defineConfig([
  {
    ...common,
    entry: {
      index: 'src/index.ts',
      'colored-mnist': 'src/colored-mnist/index.ts',
      modelnet40: 'src/modelnet40/index.ts',
      nvgesture: 'src/nvgesture/index.ts',
      testing: 'src/testing.ts',
    },
    platform: 'node',
    clean: true,
  },
  { ...common, entry: { 'colored-mnist.browser': 'src/colored-mnist/browser.ts' }, platform: 'browser', clean: false },
]);
