import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { BalancedTrainer } from '@mm/balance';
import type { CgMnistModality, CgMnistSplit, ColoredGrayMnist } from '@mm/datasets/colored-mnist';
import { describeGreedy, evaluateRun, paperBalancer, readJson, trainEpochs, writeFileAtomically, type EpochLog, type ProgressEvent, type StepLog } from '@mm/example-kit';
import { toLabeledBatch, type LabeledBatch } from '@mm/metrics';
import { cgMnistFusedNet, cgMnistUnimodalNet } from '@mm/models';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { isUnimodal, type ExperimentSettings, type Method } from './config.js';

export interface RunResult {
  method: Method;
  seed: number;
  /** Test accuracy of the best-validation checkpoint (mean of the heads' logits). */
  testAccuracy: number;
  testHeadAccuracy: number[];
  /** Fused models only. */
  cutHeadAccuracy?: number[];
  utilization?: number[];
  dUtil?: number;
  /** d_speed at the best-validation step T. */
  dSpeed?: number | null;
  utilizationError?: string;
  bestEpoch: number;
  bestStep: number;
  epochs: EpochLog[];
  steps: StepLog[];
  seconds: number;
}

export interface RunContext {
  data: ColoredGrayMnist;
  settings: ExperimentSettings;
  /** This run's folder (checkpoint, result.json). */
  dir: string;
  progress?: (event: ProgressEvent) => void;
  /** Called after each epoch (tests use it to simulate a crash). */
  onEpoch?: (log: EpochLog) => void;
}

function modalitiesOf(method: Method, settings: ExperimentSettings): CgMnistModality[] {
  if (method === 'unimodal-colored') return ['colored'];
  if (method === 'unimodal-gray') return ['gray'];
  return [...settings.pair];
}

function buildModel(method: Method, seed: number, settings: ExperimentSettings): tfl.LayersModel {
  const common = { widths: settings.widths, gateScale: settings.gateScale, seed };
  if (method === 'unimodal-colored') return cgMnistUnimodalNet({ ...common, modality: 0 });
  if (method === 'unimodal-gray') return cgMnistUnimodalNet({ ...common, modality: 1 });
  const channels = settings.pair.map((m) => (m === 'colored' ? 3 : 1)) as [number, number];
  return cgMnistFusedNet({ ...common, inputChannels: channels });
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

const EVALUATION_BATCH = 500;

/**
 * Trains one (method, seed) with the kit's epoch loop — balanced (or plain) steps, validation
 * after each epoch, an atomic checkpoint after each epoch, the best-validation weights kept —
 * then tests that checkpoint and, for fused models, its conditional utilization rates. A run
 * interrupted at any point resumes from its last checkpoint to the same result; a finished one is
 * read back from its result.json.
 */
export async function trainOne(method: Method, seed: number, ctx: RunContext): Promise<RunResult> {
  const { data, settings } = ctx;
  const resultFile = join(ctx.dir, 'result.json');
  if (existsSync(resultFile)) return readJson<RunResult>(resultFile);

  const modalities = modalitiesOf(method, settings);
  const stepsPerEpoch = data.train.numBatches(settings.batchSize, true);
  const model = buildModel(method, seed, settings);
  const balancer = paperBalancer(isUnimodal(method) ? 'unimodal' : method, {
    alpha: settings.alpha,
    windowSize: settings.windowSize,
    warmupSteps: stepsPerEpoch,
    numModalities: 2,
    seed: seed * 7 + 1,
    logBase: settings.logBase,
  });
  const trainer = new BalancedTrainer({ model, optimizer: tf.train.momentum(settings.learningRate, settings.momentum), balancer });
  try {
    const loop = await trainEpochs({
      trainer,
      dir: ctx.dir,
      epochs: settings.epochs,
      stepsPerEpoch,
      trainBatches: (epoch) => data.train.batches({ batchSize: settings.batchSize, shuffle: true, seed: seed * 1000 + settings.dataSeed, epoch, dropRemainder: true, modalities }),
      validation: () => labeled(data.validation, modalities, EVALUATION_BATCH),
      trainAccuracy: () => labeled(data.train, modalities, EVALUATION_BATCH, settings.trainAccuracySamples),
      stopAtTrainAccuracy: settings.stopAtTrainAccuracy,
      identity: { method, seed },
      label: `${method} seed ${seed}`,
      describe: describeGreedy,
      progress: ctx.progress,
      onEpoch: ctx.onEpoch,
    });
    ctx.progress?.({ label: `${method} seed ${seed}`, epoch: settings.epochs, epochs: settings.epochs, phase: 'evaluate', step: 0, stepsPerEpoch, loss: Number.NaN, detail: '' });
    const evaluationStart = Date.now();
    // h̄ is recorded on the training data as stored (CG-MNIST has no augmentation to switch off).
    const evaluation = await evaluateRun(trainer, {
      test: () => labeled(data.test, modalities, EVALUATION_BATCH),
      squeezeTrain: () => labeled(data.train, modalities, EVALUATION_BATCH, settings.squeezeRecordingSamples),
    });
    const result: RunResult = {
      method,
      seed,
      testAccuracy: evaluation.test.accuracy,
      testHeadAccuracy: evaluation.test.modalityAccuracy ?? [],
      bestEpoch: loop.best.epoch,
      bestStep: loop.best.step,
      epochs: loop.epochs,
      steps: loop.steps,
      seconds: loop.seconds + (Date.now() - evaluationStart) / 1000,
    };
    if (!isUnimodal(method)) {
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
  }
}
