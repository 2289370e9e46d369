export { createRng, shuffledIndices, splitTrainValidation, type Rng } from './random.js';
