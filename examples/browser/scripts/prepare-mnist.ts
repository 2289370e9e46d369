// `pnpm prepare-data` (run by dev and build): the MNIST subset the page fetches.
import { SHIPPED_MNIST } from '../src/protocol.js';
import { writePageMnist } from './mnist-subset.js';

const files = writePageMnist();
console.log(`MNIST subset (${SHIPPED_MNIST.train} train, ${SHIPPED_MNIST.test} test samples): ${files.join(', ')}`);
