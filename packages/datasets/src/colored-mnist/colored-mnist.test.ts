import { beforeAll, describe, expect, it } from 'vitest';
import { MNIST_IMAGE_SIZE, MNIST_NUM_CLASSES, MNIST_SPLIT_SIZES } from '../mnist/mnist.js';
import { type CgMnistSplit, type ColoredGrayMnist } from './colored-mnist.js';
import { buildColoredGrayMnist } from './build.js';
import { DEFAULT_CLASS_COLORS, nearestColorIndex } from './colors.js';

const PIXELS = MNIST_IMAGE_SIZE * MNIST_IMAGE_SIZE;
// Subsets keep the test quick; the statistics below need only a few thousand samples.
const TRAIN_SIZE = 4000;
const TEST_SIZE = 3000;

/**
 * The stroke color of a sample, recovered from the pixels alone: colored = gray × color at
 * every pixel, so the gray-weighted mean of the colored image over the stroke is the color.
 */
function strokeColor(split: CgMnistSplit, i: number): [number, number, number] {
  const rgb: [number, number, number] = [0, 0, 0];
  let weight = 0;
  for (let p = 0; p < PIXELS; p++) {
    const g = split.gray[i * PIXELS + p];
    weight += g * g;
    for (let c = 0; c < 3; c++) rgb[c] += g * split.colored[(i * PIXELS + p) * 3 + c];
  }
  return rgb.map((v) => v / weight) as [number, number, number];
}

/** Byte-wise equality: vitest's toEqual walks millions of elements far too slowly. */
function sameContent(a: ArrayBufferView, b: ArrayBufferView): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

/** Fraction of samples whose stroke color is nearest to their own class's mean color. */
function colorLabelAgreement(split: CgMnistSplit): number {
  let agree = 0;
  for (let i = 0; i < split.size; i++) {
    if (nearestColorIndex(strokeColor(split, i)) === split.labels[i]) agree++;
  }
  return agree / split.size;
}

describe('Colored-and-gray-MNIST', () => {
  let data: ColoredGrayMnist;
  beforeAll(() => {
    data = buildColoredGrayMnist({ seed: 11, trainSize: TRAIN_SIZE, testSize: TEST_SIZE });
  });

  it('has the requested sizes, validation held out of MNIST test', () => {
    expect(data.train.size).toBe(TRAIN_SIZE);
    expect(data.test.size).toBe(TEST_SIZE);
    expect(data.validation.size).toBe(Math.round(MNIST_SPLIT_SIZES.test * 0.2));
    const validation = new Set(data.validation.sourceIndices);
    expect(data.test.sourceIndices.some((i) => validation.has(i))).toBe(false);
    expect(data.train.colored.length).toBe(TRAIN_SIZE * PIXELS * 3);
    expect(data.train.gray.length).toBe(TRAIN_SIZE * PIXELS);
  });

  it('paints only the stroke: black background, gray image = stroke intensity', () => {
    const split = data.train;
    let background = 0;
    let maxColoredOnBackground = 0;
    for (let p = 0; p < split.size * PIXELS; p++) {
      if (split.gray[p] === 0) {
        background++;
        for (let c = 0; c < 3; c++) maxColoredOnBackground = Math.max(maxColoredOnBackground, split.colored[p * 3 + c]);
      }
    }
    expect(background).toBeGreaterThan(0);
    expect(maxColoredOnBackground).toBe(0);
    expect(split.gray.every((v) => v >= 0 && v <= 1)).toBe(true);
    expect(split.colored.every((v) => v >= 0 && v <= 1)).toBe(true);
  });

  it('color follows the label in train (≈1) and is independent of it in validation and test (≈chance)', () => {
    const train = colorLabelAgreement(data.train);
    console.log(`color/label agreement (nearest mean color of the stroke): train ${train.toFixed(4)}`);
    expect(train).toBeGreaterThan(0.95);
    const chance = 1 / MNIST_NUM_CLASSES;
    for (const split of [data.validation, data.test]) {
      const agreement = colorLabelAgreement(split);
      console.log(`color/label agreement: ${split.name} ${agreement.toFixed(4)} (chance ${chance})`);
      // Five binomial standard deviations around chance.
      const tolerance = 5 * Math.sqrt((chance * (1 - chance)) / split.size);
      expect(Math.abs(agreement - chance)).toBeLessThan(tolerance);
    }
  });

  it('adds per-sample color noise of variance σ²', () => {
    for (const variance of [0.02, 0.04]) {
      const built = variance === 0.02 ? data : buildColoredGrayMnist({ seed: 11, trainSize: TRAIN_SIZE, variance });
      // Channels whose mean is 0.5 are rarely clipped, so their spread shows σ² directly.
      let sum = 0;
      let sumSquares = 0;
      let n = 0;
      for (let i = 0; i < built.train.size; i++) {
        const mean = DEFAULT_CLASS_COLORS[built.train.colorClasses[i]];
        for (let c = 0; c < 3; c++) {
          if (mean[c] !== 0.5) continue;
          const deviation = built.train.sampleColors[i * 3 + c] - mean[c];
          sum += deviation;
          sumSquares += deviation * deviation;
          n++;
        }
      }
      const estimate = sumSquares / n - (sum / n) ** 2;
      expect(n).toBeGreaterThan(100);
      expect(Math.abs(estimate - variance) / variance).toBeLessThan(0.2);
    }
  });

  it('is deterministic for a seed, different across seeds, and subset-independent', () => {
    const again = buildColoredGrayMnist({ seed: 11, trainSize: TRAIN_SIZE, testSize: TEST_SIZE });
    for (const name of ['train', 'validation', 'test'] as const) {
      for (const field of ['colored', 'gray', 'labels', 'sourceIndices', 'sampleColors'] as const) {
        expect(sameContent(again[name][field], data[name][field]), `${name}.${field}`).toBe(true);
      }
    }
    const other = buildColoredGrayMnist({ seed: 12, trainSize: TRAIN_SIZE, testSize: TEST_SIZE });
    expect(sameContent(other.train.sourceIndices, data.train.sourceIndices)).toBe(false);
    expect(sameContent(other.validation.sampleColors, data.validation.sampleColors)).toBe(false);
    expect(sameContent(other.validation.colored, data.validation.colored)).toBe(false);
    // A sample keeps its color whatever subset it lands in.
    const smaller = buildColoredGrayMnist({ seed: 11, trainSize: TRAIN_SIZE / 4, testSize: TEST_SIZE });
    const position = new Map(Array.from(data.train.sourceIndices, (src, i) => [src, i]));
    for (let i = 0; i < smaller.train.size; i++) {
      const j = position.get(smaller.train.sourceIndices[i]);
      if (j === undefined) continue;
      expect(Array.from(smaller.train.sampleColors.subarray(i * 3, i * 3 + 3))).toEqual(
        Array.from(data.train.sampleColors.subarray(j * 3, j * 3 + 3)),
      );
    }
  });

  it("paints validation and test uniformly from the RGB cube with testColoring 'uniform', leaving training as it was", () => {
    const uniform = buildColoredGrayMnist({ trainSize: 500, testSize: 2000, seed: 1, testColoring: 'uniform' });
    const usual = buildColoredGrayMnist({ trainSize: 500, testSize: 2000, seed: 1 });
    expect(Array.from(uniform.train.colored)).toEqual(Array.from(usual.train.colored));
    expect(Array.from(uniform.test.gray)).toEqual(Array.from(usual.test.gray));
    // Uniform colors sit far from every class mean more often than noisy class means do.
    const farFromMeans = (split: CgMnistSplit) => {
      let far = 0;
      for (let i = 0; i < split.size; i++) {
        const c = split.sampleColors.subarray(3 * i, 3 * i + 3);
        const mean = DEFAULT_CLASS_COLORS[nearestColorIndex(c)];
        if (Math.hypot(c[0] - mean[0], c[1] - mean[1], c[2] - mean[2]) > 0.45) far++;
      }
      return far / split.size;
    };
    expect(farFromMeans(usual.test)).toBeLessThan(0.05);
    expect(farFromMeans(uniform.test)).toBeGreaterThan(0.2);
    // Each channel is uniform on [0, 1]: mean ≈ 0.5, variance ≈ 1/12.
    const red = Array.from({ length: uniform.test.size }, (_, i) => uniform.test.sampleColors[3 * i]);
    const mean = red.reduce((a, b) => a + b, 0) / red.length;
    expect(mean).toBeCloseTo(0.5, 1);
    expect(red.reduce((a, b) => a + (b - mean) ** 2, 0) / red.length).toBeCloseTo(1 / 12, 2);
    expect(() => buildColoredGrayMnist({ trainSize: 100, testColoring: 'random' as never })).toThrow(/testColoring must be 'class-means' or 'uniform'/);
  });

  it('splits MNIST test into validation and test by validationFraction', () => {
    const fraction = 0.5;
    const built = buildColoredGrayMnist({ seed: 11, trainSize: 10, validationFraction: fraction });
    expect(built.validation.size).toBe(Math.round(MNIST_SPLIT_SIZES.test * fraction));
    expect(built.validation.size + built.test.size).toBe(MNIST_SPLIT_SIZES.test);
    const none = buildColoredGrayMnist({ seed: 11, trainSize: 10, validationFraction: 0, testSize: 100 });
    expect([none.validation.size, none.test.size]).toEqual([0, 100]);
    expect(() => buildColoredGrayMnist({ trainSize: 10, testSize: MNIST_SPLIT_SIZES.test })).toThrow(/testSize is 10000 but only 8000/);
  });

  it('rejects bad options with a message saying what is allowed', () => {
    expect(() => buildColoredGrayMnist({ variance: -1 })).toThrow(/variance .* ≥ 0/);
    expect(() => buildColoredGrayMnist({ trainSize: 1.5 })).toThrow(/trainSize must be a positive integer/);
    expect(() => buildColoredGrayMnist({ trainSize: MNIST_SPLIT_SIZES.train + 1 })).toThrow(/only 60000 samples/);
    expect(() => buildColoredGrayMnist({ colors: DEFAULT_CLASS_COLORS.slice(1) })).toThrow(/10 RGB triples/);
  });
});

describe('batching', () => {
  let data: ColoredGrayMnist;
  beforeAll(() => {
    data = buildColoredGrayMnist({ seed: 3, trainSize: 1000, testSize: 500 });
  });

  it('yields [colored B·28·28·3, gray B·28·28] with labels, covering the epoch once', () => {
    const batchSize = 128;
    const seen = new Set<number>();
    let batches = 0;
    for (const batch of data.train.batches({ batchSize, shuffle: true, seed: 5, epoch: 0 })) {
      batches++;
      expect(batch.modalities).toEqual(['colored', 'gray']);
      expect(batch.inputs).toHaveLength(2);
      expect(batch.inputs[0].length).toBe(batch.size * PIXELS * 3);
      expect(batch.inputs[1].length).toBe(batch.size * PIXELS);
      expect(batch.sampleShapes).toEqual([[MNIST_IMAGE_SIZE, MNIST_IMAGE_SIZE, 3], [MNIST_IMAGE_SIZE, MNIST_IMAGE_SIZE, 1]]);
      expect(batch.labels.length).toBe(batch.size);
      batch.indices.forEach((i, b) => {
        seen.add(i);
        expect(batch.labels[b]).toBe(data.train.labels[i]);
        expect(batch.inputs[1][b * PIXELS + 300]).toBe(data.train.gray[i * PIXELS + 300]);
        expect(batch.inputs[0][(b * PIXELS + 300) * 3 + 1]).toBe(data.train.colored[(i * PIXELS + 300) * 3 + 1]);
      });
    }
    expect(batches).toBe(data.train.numBatches(batchSize));
    expect(seen.size).toBe(data.train.size);
    const dropped = [...data.train.batches({ batchSize, dropRemainder: true })];
    expect(dropped.every((b) => b.size === batchSize)).toBe(true);
    expect(dropped).toHaveLength(Math.floor(data.train.size / batchSize));
  });

  it('shuffles per epoch, reproducibly for a seed; keeps split order without shuffle', () => {
    const order = (epoch: number, seed = 5) => data.train.order({ shuffle: true, seed, epoch });
    expect(order(1)).toEqual(order(1));
    expect(order(1)).not.toEqual(order(2));
    expect(order(1, 6)).not.toEqual(order(1, 5));
    const first = data.test.batches({ batchSize: 4 }).next().value;
    expect(Array.from(first?.indices ?? [])).toEqual([0, 1, 2, 3]);
  });

  it('duplicates a modality for the §6.2 identical-input datasets', () => {
    const [batch] = data.test.batches({ batchSize: 8, modalities: ['gray', 'gray'] });
    expect(sameContent(batch.inputs[0], batch.inputs[1])).toBe(true);
    expect(batch.inputs[0]).not.toBe(batch.inputs[1]);
    expect(batch.sampleShapes[0]).toEqual([MNIST_IMAGE_SIZE, MNIST_IMAGE_SIZE, 1]);
    expect(batch.modalities).toEqual(['gray', 'gray']);
    const [colored] = data.test.batches({ batchSize: 8, modalities: ['colored'] });
    expect(colored.modalities).toEqual(['colored']);
    expect(colored.inputs).toHaveLength(1);
    expect(colored.sampleShapes).toEqual([[MNIST_IMAGE_SIZE, MNIST_IMAGE_SIZE, 3]]);
  });

  it('reports batching throughput (logged, not asserted)', () => {
    const start = performance.now();
    let samples = 0;
    for (let epoch = 0; epoch < 3; epoch++) {
      for (const batch of data.train.batches({ batchSize: 128, shuffle: true, seed: 1, epoch })) samples += batch.size;
    }
    const seconds = (performance.now() - start) / 1000;
    console.log(`batching: ${Math.round(samples / seconds)} samples/s (batch 128, both modalities)`);
    expect(samples).toBe(3 * data.train.size);
  });
});
