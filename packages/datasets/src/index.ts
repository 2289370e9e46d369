// The shared contract of every dataset: the batch type, the split interface, seeded
// randomness and prefetching. The datasets themselves are subpaths (`@mm/datasets/colored-mnist`,
// `/modelnet40`, `/nvgesture`), so importing this module loads neither sharp nor ffmpeg.
export type { MultiModalBatch, Split, SplitBatchOptions } from './batch.js';
export { createRng, deriveSeed, shuffledIndices, splitTrainValidation, type Rng } from './random.js';
export { prefetch } from './prefetch.js';
