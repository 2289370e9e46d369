import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** examples/browser, wherever the repository is. */
export const EXAMPLE_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
