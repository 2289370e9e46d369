import { buildColoredGrayMnist } from '@mm/datasets/colored-mnist';
import { disposeLabeledBatch, toLabeledBatch } from '@mm/metrics';

export interface DataPipelineReport {
  /** One-off: reading MNIST and rendering the colored/gray images of every split. */
  buildMs: number;
  /** Shuffled training batches turned into tfjs tensors (what each training step consumes). */
  samplesPerSecond: number;
  batches: number;
}

/** Throughput of the CG-MNIST pipeline at the benchmark's batch size, over at most `maxBatches` batches. */
export function measureDataPipeline(batchSize: number, maxBatches = 200): DataPipelineReport {
  const started = performance.now();
  const data = buildColoredGrayMnist({ seed: 0 });
  const buildMs = performance.now() - started;
  let samples = 0;
  let batches = 0;
  const t0 = performance.now();
  for (const batch of data.train.batches({ batchSize, shuffle: true, seed: 1, epoch: 0, dropRemainder: true })) {
    disposeLabeledBatch(toLabeledBatch(batch));
    samples += batch.size;
    if (++batches >= maxBatches) break;
  }
  const seconds = (performance.now() - t0) / 1000;
  return { buildMs, samplesPerSecond: samples / seconds, batches };
}
