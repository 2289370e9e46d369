export * from './portable.js';
// Node only: files on disk (node:fs, node:zlib), PNG output through sharp.
export { parseIdx, readIdxFile } from '../mnist/idx.js';
export { loadMnist, defaultMnistDir } from '../mnist/mnist.js';
export { writeMnistSubset, type MnistSubsetOptions } from '../mnist/subset.js';
export { buildColoredGrayMnist } from './build.js';
export type { ColoredGrayMnistOptions } from './colored-mnist.js';
export { writeSampleGrid } from './write-sample-grid.js';
