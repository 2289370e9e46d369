import * as tf from '@tensorflow/tfjs-core';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { fusionLayersOf, NORMAL_MODE, withFusionMode, type FusionLayer, type FusionMode } from '@mm/mmtm';
import { disposeLabeledBatch, iterateBatches, type BatchSource, type LabeledBatch } from './batches.js';
import { conditionalUtilizationRate, UndefinedUtilizationError } from './utilization.js';

export interface HeadAccuracies {
  /** Accuracy of the model's prediction: the mean of the heads' logits. */
  fused: number;
  /** Accuracy of each head k (f_k in normal mode, f'_k in cut mode). */
  heads: number[];
  samples: number;
}

function labelIndices(labels: tf.Tensor): tf.Tensor1D {
  return (labels.rank === 1 ? tf.cast(labels, 'int32') : tf.argMax(labels, -1)) as tf.Tensor1D;
}

/** One inference pass (model.apply runs each layer once; predict would apply a multi-output fusion layer once per output). */
function headOutputs(model: LayersModel, batch: LabeledBatch): tf.Tensor2D[] {
  const out = model.apply(batch.inputs.length === 1 ? batch.inputs[0] : batch.inputs, { training: false });
  return (Array.isArray(out) ? out : [out]) as tf.Tensor2D[];
}

/**
 * Accuracies of every head and of the mean prediction over a batch source, with all fusion
 * layers in `mode` for the duration (and restored afterwards).
 */
export async function headAccuracies(model: LayersModel, batches: BatchSource, mode: FusionMode = NORMAL_MODE): Promise<HeadAccuracies> {
  const layers = fusionLayersOf(model);
  let correct: number[] | undefined;
  let fusedCorrect = 0;
  let samples = 0;
  for await (const batch of iterateBatches(batches)) {
    try {
      const counts = withFusionMode(layers, mode, () =>
        tf.tidy(() => {
          const heads = headOutputs(model, batch);
          const truth = labelIndices(batch.labels);
          const hits = heads.map((h) => tf.sum(tf.cast(tf.equal(tf.argMax(h, -1), truth), 'int32')));
          const fused = heads.length === 1 ? heads[0] : tf.div(tf.addN(heads), heads.length);
          hits.push(tf.sum(tf.cast(tf.equal(tf.argMax(fused, -1), truth), 'int32')));
          return tf.stack(hits);
        }),
      );
      const values = Array.from(counts.dataSync());
      counts.dispose();
      const fusedHits = values.pop()!;
      correct ??= new Array(values.length).fill(0);
      values.forEach((v, k) => (correct![k] += v));
      fusedCorrect += fusedHits;
      samples += batch.labels.shape[0];
    } finally {
      disposeLabeledBatch(batch);
    }
  }
  if (samples === 0 || correct === undefined) throw new Error('cannot compute accuracy on an empty data source (no batches or no samples)');
  return { fused: fusedCorrect / samples, heads: correct.map((c) => c / samples), samples };
}

/**
 * The recording pass of Eq. 6: resets and records every fusion layer's squeeze means h̄_k over
 * `batches` (the training set, without augmentation — the reference code records with
 * augmentation on, which shifts h̄). Returns the number of samples seen.
 */
export async function recordSqueezeMeans(model: LayersModel, batches: BatchSource): Promise<number> {
  const layers: FusionLayer[] = fusionLayersOf(model);
  if (layers.length === 0) throw new Error('the model has no fusion layers (MMTM or another FusionLayer); there is nothing to record');
  for (const l of layers) l.resetSqueezeStatistics();
  let samples = 0;
  for await (const batch of iterateBatches(batches)) {
    try {
      withFusionMode(layers, NORMAL_MODE, () => tf.dispose(model.apply(batch.inputs, { training: false }) as tf.Tensor | tf.Tensor[]), 'squeeze');
      samples += batch.labels.shape[0];
    } finally {
      disposeLabeledBatch(batch);
    }
  }
  if (samples === 0) throw new Error('the recording pass saw no samples: the training data source is empty');
  return samples;
}

export interface UtilizationReport {
  /** A(f) of the mean prediction, normal fusion. */
  accuracy: number;
  /** A(f_k). */
  headAccuracy: number[];
  /** A(f'_k): head k with the other modalities' squeezes replaced by their training means. */
  cutHeadAccuracy: number[];
  /** u(others | m_k) = (A(f_k) − A(f'_k)) / A(f_k); for two modalities [u(m1|m0), u(m0|m1)]. */
  utilization: number[];
  /** Two modalities: d_util = u(m1|m0) − u(m0|m1). More: max − min of `utilization`. */
  dUtil: number;
  samples: number;
}

/**
 * Conditional utilization rates (Def. 4.1) of a model with K heads: records h̄ on `train`,
 * then evaluates every head on `test` with normal fusion and with the cross-modal flow cut.
 * Each source is consumed once; pass functions so the test data can be read twice.
 */
export async function conditionalUtilization(
  model: LayersModel,
  data: { train: () => BatchSource; test: () => BatchSource },
): Promise<UtilizationReport> {
  await recordSqueezeMeans(model, data.train());
  const normal = await headAccuracies(model, data.test(), NORMAL_MODE);
  const cut = await headAccuracies(model, data.test(), { kind: 'cut' });
  if (normal.heads.length < 2) throw new Error(`conditional utilization needs a model with one head per modality (≥ 2 outputs), got ${normal.heads.length}`);
  const utilization = normal.heads.map((a, k) => {
    try {
      return conditionalUtilizationRate(a, cut.heads[k]);
    } catch (error) {
      if (error instanceof UndefinedUtilizationError) throw new UndefinedUtilizationError(`head ${k}: ${error.message}`);
      throw error;
    }
  });
  const dUtil = utilization.length === 2 ? utilization[0] - utilization[1] : Math.max(...utilization) - Math.min(...utilization);
  return {
    accuracy: normal.fused,
    headAccuracy: normal.heads,
    cutHeadAccuracy: cut.heads,
    utilization,
    dUtil,
    samples: normal.samples,
  };
}

/**
 * `conditionalUtilization` for training applications: a head with zero test accuracy has no
 * rate, and a run that trained for hours should still report everything else. That one case
 * comes back as `problem` (why the rate is missing); every other error still throws.
 */
export async function tryConditionalUtilization(
  model: LayersModel,
  data: { train: () => BatchSource; test: () => BatchSource },
): Promise<{ report: UtilizationReport; problem: null } | { report: null; problem: string }> {
  try {
    return { report: await conditionalUtilization(model, data), problem: null };
  } catch (error) {
    if (error instanceof UndefinedUtilizationError) return { report: null, problem: error.message };
    throw error;
  }
}
