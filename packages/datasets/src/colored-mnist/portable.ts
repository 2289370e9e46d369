// What `@mm/datasets/colored-mnist` offers everywhere (Node, browsers, workers): the generator,
// the HTTP loader and the IDX/MNIST formats. index.ts adds the file-based Node parts.
export { encodeIdx, IdxFormatError, IDX_IMAGES_MAGIC, IDX_LABELS_MAGIC, type IdxArray } from '../mnist/idx-format.js';
export { fetchIdx, fetchMnist, gunzip, type FetchMnistOptions } from '../mnist/fetch-mnist.js';
export {
  MNIST_FILE_STEMS,
  MNIST_IMAGE_SIZE,
  MNIST_NUM_CLASSES,
  MNIST_SPLIT_SIZES,
  type MnistImages,
  type MnistSplit,
} from '../mnist/mnist-format.js';
export { DEFAULT_CLASS_COLORS, CLASS_COLOR_NAMES, nearestColorIndex, type Rgb } from './colors.js';
export {
  generateColoredGrayMnist,
  CgMnistSplit,
  type CgMnistBatchOptions,
  type CgMnistModality,
  type CgMnistSplitName,
  type ColoredGrayMnist,
  type ColoredGrayMnistGeneratorOptions,
} from './colored-mnist.js';
export { fetchColoredGrayMnist, type FetchColoredGrayMnistOptions } from './fetch.js';
export { coloredGrayMnistFingerprint } from './fingerprint.js';
export { renderSampleGrid, sampleGridLayout, type SampleGridLayout, type SampleGridOptions } from './sample-grid.js';
