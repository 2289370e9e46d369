// MNIST as this package holds it, with no I/O: shared by the Node reader (`loadMnist`) and the
// HTTP loader (`fetchMnist`).
import { IdxFormatError, type IdxArray } from './idx-format.js';

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
  /** The files read (paths or URLs), for provenance in reports. */
  files: { images: string; labels: string };
}

/** The files of each split, as LeCun published them. */
export const MNIST_FILE_STEMS: Record<MnistSplit, { images: string; labels: string }> = {
  train: { images: 'train-images-idx3-ubyte', labels: 'train-labels-idx1-ubyte' },
  test: { images: 't10k-images-idx3-ubyte', labels: 't10k-labels-idx1-ubyte' },
};

/** The file names of a split; throws on an unknown split. */
export function mnistFileStems(split: MnistSplit): { images: string; labels: string } {
  const stems = MNIST_FILE_STEMS[split];
  if (!stems) throw new Error(`Unknown MNIST split '${String(split)}': use 'train' or 'test'.`);
  return stems;
}

/**
 * Checks that an image file and a label file belong together and are MNIST: 28×28 images,
 * equal counts, labels 0..9. `files` name them (paths or URLs) in errors and provenance.
 */
export function mnistFromIdx(split: MnistSplit, images: IdxArray, labels: IdxArray, files: { images: string; labels: string }): MnistImages {
  if (images.dims.length !== 3) {
    throw new IdxFormatError(files.images, `expected 3 dimensions (count, rows, cols), header has ${images.dims.length}`);
  }
  const [count, rows, cols] = images.dims;
  if (rows !== MNIST_IMAGE_SIZE || cols !== MNIST_IMAGE_SIZE) {
    throw new IdxFormatError(
      files.images,
      `images are ${rows}×${cols}, expected ${MNIST_IMAGE_SIZE}×${MNIST_IMAGE_SIZE}; this is not MNIST (resize the images or use another loader)`,
    );
  }
  if (labels.dims.length !== 1) {
    throw new IdxFormatError(files.labels, `expected 1 dimension (count), header has ${labels.dims.length}`);
  }
  if (labels.dims[0] !== count) {
    throw new IdxFormatError(
      files.labels,
      `holds ${labels.dims[0]} labels but ${files.images} holds ${count} images; the two files must come from the same split and release`,
    );
  }
  const badIndex = labels.data.findIndex((label) => label >= MNIST_NUM_CLASSES);
  if (badIndex >= 0) {
    throw new IdxFormatError(
      files.labels,
      `label ${labels.data[badIndex]} at index ${badIndex} is outside 0..${MNIST_NUM_CLASSES - 1}; the file is corrupt or not MNIST`,
    );
  }
  return { split, count, rows, cols, images: images.data, labels: labels.data, files };
}
