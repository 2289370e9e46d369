import { MNIST_IMAGE_SIZE } from '../mnist/mnist-format.js';
import type { CgMnistSplit } from './colored-mnist.js';

export interface SampleGridOptions {
  /** How many samples to show (default 40, or the split size if smaller). */
  count?: number;
  /** Samples per row (default 10). */
  columns?: number;
  /** Pixel magnification (default 2: 56×56 per image). */
  scale?: number;
  /** Gray separator width in output pixels between samples (default 4); a sample's two images are 1 pixel apart. */
  gap?: number;
  /** Split positions to show (default: the first `count`). */
  indices?: ArrayLike<number>;
}

export interface SampleGridLayout {
  count: number;
  columns: number;
  rows: number;
  width: number;
  height: number;
}

const SEPARATOR_LEVEL = 96;

/** Separator between the two images of one sample: thinner than between samples, so pairs read as pairs. */
const PAIR_GAP = 1;

/**
 * Size of the grid `writeSampleGrid` draws: each cell is the colored image (m0) and, to its
 * right, the gray image (m1) of the same sample, 1 pixel apart; cells are separated by `gap`,
 * with a `gap` border.
 */
export function sampleGridLayout(splitSize: number, options: SampleGridOptions = {}): SampleGridLayout {
  const count = options.indices?.length ?? Math.min(options.count ?? 40, splitSize);
  const columns = Math.max(1, Math.min(options.columns ?? 10, count));
  const scale = options.scale ?? 2;
  const gap = options.gap ?? 4;
  if (!(Number.isInteger(scale) && scale >= 1) || !(Number.isInteger(gap) && gap >= 0)) {
    throw new RangeError(`scale must be an integer ≥ 1 and gap an integer ≥ 0, got scale ${scale}, gap ${gap}`);
  }
  if (count < 1) throw new RangeError('the sample grid needs at least one sample');
  const rows = Math.ceil(count / columns);
  const image = MNIST_IMAGE_SIZE * scale;
  const cellWidth = 2 * image + PAIR_GAP;
  return {
    count,
    columns,
    rows,
    width: gap + columns * (cellWidth + gap),
    height: gap + rows * (image + gap),
  };
}

/** Draws samples of a split (both modalities side by side) into an RGB pixel buffer. */
export function renderSampleGrid(split: CgMnistSplit, options: SampleGridOptions = {}): {
  pixels: Uint8Array;
  layout: SampleGridLayout;
} {
  const layout = sampleGridLayout(split.size, options);
  const scale = options.scale ?? 2;
  const gap = options.gap ?? 4;
  const indices = options.indices ?? Int32Array.from({ length: layout.count }, (_, i) => i);
  const pixels = new Uint8Array(layout.width * layout.height * 3).fill(SEPARATOR_LEVEL);
  const image = MNIST_IMAGE_SIZE * scale;
  const toByte = (v: number) => Math.round(Math.min(1, Math.max(0, v)) * 255);
  for (let k = 0; k < layout.count; k++) {
    const sample = indices[k];
    if (!(sample >= 0 && sample < split.size)) {
      throw new RangeError(`sample grid: index ${sample} is outside the ${split.name} split (0..${split.size - 1})`);
    }
    const left = gap + (k % layout.columns) * (2 * image + PAIR_GAP + gap);
    const top = gap + Math.floor(k / layout.columns) * (image + gap);
    for (let y = 0; y < image; y++) {
      for (let x = 0; x < image; x++) {
        const p = sample * MNIST_IMAGE_SIZE * MNIST_IMAGE_SIZE + Math.floor(y / scale) * MNIST_IMAGE_SIZE + Math.floor(x / scale);
        const row = (top + y) * layout.width;
        const coloredAt = (row + left + x) * 3;
        const grayAt = (row + left + image + PAIR_GAP + x) * 3;
        const level = toByte(split.gray[p]);
        for (let c = 0; c < 3; c++) {
          pixels[coloredAt + c] = toByte(split.colored[p * 3 + c]);
          pixels[grayAt + c] = level;
        }
      }
    }
  }
  return { pixels, layout };
}
