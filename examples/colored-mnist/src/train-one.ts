import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { BalancedTrainer, type Balancer } from '@mm/balance';
import type { CgMnistModality, CgMnistSplit, ColoredGrayMnist } from '@mm/datasets/colored-mnist';
import { describeGreedy, evaluateRun, readJson, trainEpochs, writeFileAtomically, type EpochLog, type ProgressEvent, type StepLog } from '@mm/example-kit';
import { toLabeledBatch, type LabeledBatch } from '@mm/metrics';
import { shuffledIndices, deriveSeed } from '@mm/datasets';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { RunSettings } from './config.js';

/** One training run: which method on which model and data, with which seed. */
export interface RunSpec {
  /** The method's name in tables (e.g. 'guided', 'ogm-ge'). */
  method: string;
  seed: number;
  /** Which image feeds each model input. */
  modalities: CgMnistModality[];
  model: () => tfl.LayersModel;
  balancer: (stepsPerEpoch: number) => Balancer;
  /**
   * Hold this fraction of the training samples out of training, as held-out data for methods
   * that estimate on it (Gradient Blending); default none.
   */
  heldOutFraction?: number;
  /** Frees what `model`/`balancer` made besides them (e.g. teacher models), after the run. */
  release?: () => void;
}

export interface RunResult {
  method: string;
  seed: number;
  /** Test accuracy of the best-validation checkpoint. */
  testAccuracy: number;
  /** Accuracy of each modality's logits (heads, head slices or auxiliary heads). */
  testHeadAccuracy: number[];
  /** MMTM models only. */
  cutHeadAccuracy?: number[];
  utilization?: number[];
  dUtil?: number;
  /** d_speed at the best-validation step T (MMTM models). */
  dSpeed?: number | null;
  utilizationError?: string;
  bestEpoch: number;
  bestStep: number;
  /** Mean seconds per training step (data included, evaluation not). */
  secondsPerStep: number;
  epochs: EpochLog[];
  steps: StepLog[];
  seconds: number;
}

/** A run's result as results.json keeps it (the per-step log stays in the run's own result.json). */
export type RunSummary = Omit<RunResult, 'steps'>;

/** A result without its per-step log (a no-op on one that has none). */
export function withoutSteps(result: RunSummary | RunResult): RunSummary {
  const { steps: _steps, ...summary } = result as RunResult;
  return summary;
}

export interface RunContext {
  data: ColoredGrayMnist;
  settings: RunSettings;
  /** This run's folder (checkpoint, result.json). */
  dir: string;
  progress?: (event: ProgressEvent) => void;
  /** Called after each epoch (tests use it to simulate a crash). */
  onEpoch?: (log: EpochLog) => void;
}

/** Batches of a split as tensors for evaluation (the consumer disposes them), at most `limit` samples. */
function* labeled(split: CgMnistSplit, modalities: CgMnistModality[], batchSize: number, limit?: number): Generator<LabeledBatch> {
  let seen = 0;
  for (const batch of split.batches({ batchSize, modalities })) {
    if (limit !== undefined && seen >= limit) return;
    seen += batch.size;
    yield toLabeledBatch(batch);
  }
}

/** Batches of the given positions of a split (in that order). */
function* positions(split: CgMnistSplit, indices: Int32Array, modalities: CgMnistModality[], batchSize: number, dropRemainder = false) {
  const count = dropRemainder ? Math.floor(indices.length / batchSize) : Math.ceil(indices.length / batchSize);
  for (let k = 0; k < count; k++) yield split.batch(indices.subarray(k * batchSize, Math.min((k + 1) * batchSize, indices.length)), modalities);
}

const EVALUATION_BATCH = 500;

/**
 * Trains one run with the kit's epoch loop — the method's steps, validation after each epoch,
 * an atomic checkpoint after each epoch, the best-validation weights kept — then tests that
 * checkpoint and, for MMTM models, its conditional utilization rates. A run interrupted at any
 * point resumes from its last checkpoint to the same result; a finished one is read back from its
 * result.json.
 */
export async function trainOne(spec: RunSpec, ctx: RunContext): Promise<RunResult> {
  const { data, settings } = ctx;
  const resultFile = join(ctx.dir, 'result.json');
  if (existsSync(resultFile)) return readJson<RunResult>(resultFile);

  const { modalities, seed } = spec;
  const shuffleSeed = seed * 1000 + settings.dataSeed;
  // Held-out samples come off the training split once (fixed by the data seed), never trained on.
  const heldOutCount = Math.round((spec.heldOutFraction ?? 0) * data.train.size);
  const order = heldOutCount > 0 ? shuffledIndices(data.train.size, deriveSeed(settings.dataSeed, 7)) : undefined;
  const trained = order ? order.slice(heldOutCount) : undefined;
  const heldOut = order ? order.slice(0, heldOutCount) : undefined;
  const stepsPerEpoch = Math.floor((trained?.length ?? data.train.size) / settings.batchSize);
  const trainBatches = (epoch: number) =>
    trained
      ? positions(data.train, Int32Array.from(shuffledIndices(trained.length, deriveSeed(shuffleSeed, epoch)), (i) => trained[i]), modalities, settings.batchSize, true)
      : data.train.batches({ batchSize: settings.batchSize, shuffle: true, seed: shuffleSeed, epoch, dropRemainder: true, modalities });
  const trainedSamples = () => (trained ? positions(data.train, trained, modalities, EVALUATION_BATCH) : data.train.batches({ batchSize: EVALUATION_BATCH, modalities }));

  const model = spec.model();
  const trainer = new BalancedTrainer({ model, optimizer: tf.train.momentum(settings.learningRate, settings.momentum), balancer: spec.balancer(stepsPerEpoch), seed });
  const label = `${spec.method} seed ${seed}`;
  try {
    const loop = await trainEpochs({
      trainer,
      dir: ctx.dir,
      epochs: settings.epochs,
      stepsPerEpoch,
      trainBatches,
      validation: () => labeled(data.validation, modalities, EVALUATION_BATCH),
      trainAccuracy: () => limitSamples(trainedSamples(), settings.trainAccuracySamples),
      stopAtTrainAccuracy: settings.stopAtTrainAccuracy,
      epochData: {
        train: () => limitSamples(trainBatches(0), undefined),
        validation: heldOut ? () => limitSamples(positions(data.train, heldOut, modalities, EVALUATION_BATCH), undefined) : undefined,
      },
      identity: { method: spec.method, seed },
      label,
      describe: describeGreedy,
      progress: ctx.progress,
      onEpoch: ctx.onEpoch,
    });
    ctx.progress?.({ label, epoch: settings.epochs, epochs: settings.epochs, phase: 'evaluate', step: 0, stepsPerEpoch, loss: Number.NaN, detail: '' });
    const evaluationStart = Date.now();
    // h̄ is recorded on the training data as stored (CG-MNIST has no augmentation to switch off).
    const evaluation = await evaluateRun(trainer, {
      test: () => labeled(data.test, modalities, EVALUATION_BATCH),
      squeezeTrain: () => labeled(data.train, modalities, EVALUATION_BATCH, settings.squeezeRecordingSamples),
    });
    const steps = loop.epochs.reduce((n, e, i) => n + (e.step - (i > 0 ? loop.epochs[i - 1].step : 0)), 0);
    const result: RunResult = {
      method: spec.method,
      seed,
      testAccuracy: evaluation.test.accuracy,
      testHeadAccuracy: evaluation.test.modalityAccuracy ?? [],
      bestEpoch: loop.best.epoch,
      bestStep: loop.best.step,
      secondsPerStep: loop.epochs.reduce((s, e) => s + e.trainSeconds, 0) / Math.max(1, steps),
      epochs: loop.epochs,
      steps: loop.steps,
      seconds: loop.seconds + (Date.now() - evaluationStart) / 1000,
    };
    if (trainer.view.kind === 'mmtm') {
      result.dSpeed = loop.best.metrics.dSpeed ?? null;
      if (evaluation.utilization) {
        const u = evaluation.utilization;
        Object.assign(result, { cutHeadAccuracy: u.cutHeadAccuracy, utilization: u.utilization, dUtil: u.dUtil });
      } else if (evaluation.utilizationProblem) result.utilizationError = evaluation.utilizationProblem;
    }
    writeFileAtomically(resultFile, JSON.stringify(result));
    return result;
  } finally {
    trainer.dispose();
    model.dispose();
    spec.release?.();
  }
}

/** Flat batches → tensors, at most `limit` samples. */
function* limitSamples(batches: Iterable<{ size: number } & Parameters<typeof toLabeledBatch>[0]>, limit: number | undefined): Generator<LabeledBatch> {
  let seen = 0;
  for (const batch of batches) {
    if (limit !== undefined && seen >= limit) return;
    seen += batch.size;
    yield toLabeledBatch(batch);
  }
}
