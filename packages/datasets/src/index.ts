export { createRng, shuffledIndices, splitTrainValidation, type Rng } from './random.js';
export {
  parseIdx,
  readIdxFile,
  encodeIdx,
  IdxFormatError,
  IDX_IMAGES_MAGIC,
  IDX_LABELS_MAGIC,
  IDX_UNSIGNED_BYTE,
  type IdxArray,
} from './mnist/idx.js';
export {
  loadMnist,
  defaultMnistDir,
  MNIST_IMAGE_SIZE,
  MNIST_NUM_CLASSES,
  MNIST_SPLIT_SIZES,
  type MnistImages,
  type MnistSplit,
} from './mnist/mnist.js';
export { DEFAULT_CLASS_COLORS, CLASS_COLOR_NAMES, nearestColorIndex, type Rgb } from './colored-mnist/colors.js';
export {
  buildColoredGrayMnist,
  CgMnistSplit,
  deriveSeed,
  type BatchOptions,
  type CgMnistModality,
  type CgMnistSplitName,
  type ColoredGrayMnist,
  type ColoredGrayMnistOptions,
  type MultiModalBatch,
} from './colored-mnist/colored-mnist.js';
export {
  writeSampleGrid,
  renderSampleGrid,
  sampleGridLayout,
  type SampleGridLayout,
  type SampleGridOptions,
} from './colored-mnist/sample-grid.js';
export * from './modelnet40/index.js';
