import { fetchMnist, type FetchMnistOptions } from '../mnist/fetch-mnist.js';
import { generateColoredGrayMnist, type ColoredGrayMnist, type ColoredGrayMnistGeneratorOptions } from './colored-mnist.js';

export type FetchColoredGrayMnistOptions = ColoredGrayMnistGeneratorOptions & FetchMnistOptions;

/**
 * Colored-and-gray-MNIST from MNIST IDX files served over HTTP (`baseUrl`, gzip or raw), for
 * browsers and workers: the same generator, seeds and splits as `buildColoredGrayMnist`, so
 * the same files and options give the same samples (`coloredGrayMnistFingerprint` checks it).
 */
export async function fetchColoredGrayMnist(options: FetchColoredGrayMnistOptions): Promise<ColoredGrayMnist> {
  const { baseUrl, gzip, fetch, ...generator } = options;
  const source = { baseUrl, gzip, fetch };
  const [train, test] = await Promise.all([fetchMnist('train', source), fetchMnist('test', source)]);
  return generateColoredGrayMnist({ train, test }, generator);
}
