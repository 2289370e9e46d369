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
export { resolveFfmpeg, FFMPEG_ENV_VAR, type FfmpegSource, type ResolvedFfmpeg, type ResolveFfmpegOptions } from './ffmpeg/resolve.js';
export { decodeFrames, VideoDecodeError, type DecodedFrames, type DecodeFramesOptions, type RawPixelFormat, type VideoProblem } from './ffmpeg/decode.js';
export {
  parseNvGestureList,
  readNvGestureList,
  NvGestureListError,
  NVGESTURE_LIST_FILES,
  NVGESTURE_NUM_CLASSES,
  type MalformedLine,
  type NvGestureSample,
  type ParsedList,
  type ParseListOptions,
} from './nvgesture/list.js';
export {
  clipWindow,
  loadClip,
  nvGestureBatches,
  openNvGesture,
  NvGestureSampleError,
  NVGESTURE_DOWNLOAD_HINT,
  type Clip,
  type ClipBatch,
  type ClipBatchOptions,
  type ClipMode,
  type ClipOptions,
  type LoaderStats,
  type NvGestureSplits,
  type OpenNvGestureOptions,
} from './nvgesture/nvgesture.js';
export { writeNvGestureFixture, fixtureRgb, fixtureDepth, type FixtureSampleSpec, type FixtureOptions } from './nvgesture/fixture.js';
