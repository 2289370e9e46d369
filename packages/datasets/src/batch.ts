/**
 * The batch every dataset of this package yields, whatever its modalities: flat typed arrays
 * (no tfjs here), one per model input, with the shape of one sample of each.
 */
export interface MultiModalBatch {
  /** Names of the modalities, in input order, e.g. ['colored', 'gray'], ['view0', 'view6'], ['rgb', 'depth']. */
  modalities: string[];
  /** One flat Float32Array per modality (model input), samples concatenated, channels last. */
  inputs: Float32Array[];
  /** Shape of one sample of each modality, e.g. [[28, 28, 3], [28, 28, 1]] or [[8, 64, 64, 3], [8, 64, 64, 1]]. */
  sampleShapes: number[][];
  labels: Int32Array;
  size: number;
  /** Positions of the samples within their split. */
  indices: Int32Array;
}

/** What every split's `batches()` accepts; datasets add their own options on top. */
export interface SplitBatchOptions {
  batchSize: number;
  /** Reshuffle the order each epoch. */
  shuffle?: boolean;
  /** With `shuffle` (and augmentation), epoch e is fixed by (seed, e), so a resumed run sees the same batches. */
  seed?: number;
  epoch?: number;
  /** Drop the last batch when it is smaller than batchSize (default false). */
  dropRemainder?: boolean;
}

/** One split of a dataset (train, validation or test). */
export interface Split<O extends SplitBatchOptions = SplitBatchOptions> {
  readonly name: string;
  readonly size: number;
  /** Batches of one epoch (an upper bound for loaders that skip bad samples). */
  numBatches(batchSize: number, dropRemainder?: boolean): number;
  /** One epoch. Each batch owns fresh arrays (safe to keep or hand to tfjs). */
  batches(options: O): Iterable<MultiModalBatch> | AsyncIterable<MultiModalBatch>;
}

export function checkBatchSize(batchSize: number): void {
  if (!(Number.isInteger(batchSize) && batchSize > 0)) {
    throw new RangeError(`batchSize must be a positive integer, got ${batchSize}`);
  }
}

export function countBatches(size: number, batchSize: number, dropRemainder = false): number {
  checkBatchSize(batchSize);
  return dropRemainder ? Math.floor(size / batchSize) : Math.ceil(size / batchSize);
}
