export { parseIdx, readIdxFile, IdxFormatError, type IdxArray } from '../mnist/idx.js';
export {
  loadMnist,
  defaultMnistDir,
  MNIST_IMAGE_SIZE,
  MNIST_NUM_CLASSES,
  MNIST_SPLIT_SIZES,
  type MnistImages,
  type MnistSplit,
} from '../mnist/mnist.js';
export { DEFAULT_CLASS_COLORS, CLASS_COLOR_NAMES, nearestColorIndex, type Rgb } from './colors.js';
export {
  buildColoredGrayMnist,
  CgMnistSplit,
  type CgMnistBatchOptions,
  type CgMnistModality,
  type CgMnistSplitName,
  type ColoredGrayMnist,
  type ColoredGrayMnistOptions,
} from './colored-mnist.js';
export {
  writeSampleGrid,
  renderSampleGrid,
  sampleGridLayout,
  type SampleGridLayout,
  type SampleGridOptions,
} from './sample-grid.js';
