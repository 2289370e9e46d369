import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { BalancedTrainer, GuidedScheduler, RandomScheduler, rubiLoss, VanillaScheduler, type Scheduler, type TrainingStepState } from '@mm/balance';
import type { CgMnistModality, CgMnistSplit, ColoredGrayMnist } from '@mm/datasets/colored-mnist';
import { disposeLabeledBatch, headAccuracies, toLabeledBatch, tryConditionalUtilization, type LabeledBatch } from '@mm/metrics';
import { cgMnistFusedNet, cgMnistUnimodalNet } from '@mm/models';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packTensors, readJson, unpackTensors, writeDirectoryAtomically, writeFileAtomically, type TensorEntry } from './checkpoint.js';
import { isUnimodal, type ExperimentSettings, type Method } from './settings.js';

export interface StepLog {
  step: number;
  loss: number;
  /** 'R' regular, 'B0' / 'B1' re-balancing modality 0 / 1. */
  kind: string;
  dSpeed: number | null;
}

export interface EpochLog {
  epoch: number;
  step: number;
  meanLoss: number;
  validationAccuracy: number;
  validationHeadAccuracy: number[];
  trainAccuracy: number;
  dSpeed: number | null;
  seconds: number;
}

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

export interface Progress {
  method: Method;
  seed: number;
  epoch: number;
  epochs: number;
  step: number;
  stepsPerEpoch: number;
  loss: number;
  kind: string;
  dSpeed: number | null;
  phase: 'train' | 'evaluate';
}

export interface RunContext {
  data: ColoredGrayMnist;
  settings: ExperimentSettings;
  /** This run's folder (checkpoint, result.json). */
  dir: string;
  onProgress?: (p: Progress) => void;
  onEpoch?: (log: EpochLog, method: Method, seed: number) => void;
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

function buildScheduler(method: Method, seed: number, settings: ExperimentSettings, stepsPerEpoch: number): Scheduler {
  if (method === 'guided') return new GuidedScheduler({ alpha: settings.alpha, windowSize: settings.windowSize, warmupSteps: stepsPerEpoch });
  if (method === 'random') return new RandomScheduler({ warmupSteps: stepsPerEpoch, seed: seed * 7 + 1 });
  return new VanillaScheduler();
}

/** Batches of a split as tensors, for the metrics functions (which dispose them). */
function* tensorBatches(split: CgMnistSplit, modalities: CgMnistModality[], batchSize: number, limit?: number): Generator<LabeledBatch> {
  let seen = 0;
  for (const batch of split.batches({ batchSize, modalities })) {
    if (limit !== undefined && seen >= limit) return;
    seen += batch.size;
    yield toLabeledBatch(batch);
  }
}

interface CheckpointState {
  method: Method;
  seed: number;
  epoch: number;
  trainer: TrainingStepState;
  best: { accuracy: number; epoch: number; step: number; dSpeed: number | null };
  epochs: EpochLog[];
  steps: StepLog[];
  seconds: number;
  manifests: { model: TensorEntry[]; optimizer: TensorEntry[]; best: TensorEntry[] };
}

const kindLabel = (k: { kind: string; modality?: number }) => (k.kind === 'regular' ? 'R' : `B${k.modality}`);

/**
 * Trains one (method, seed): epochs of balanced (or plain) steps, validation after each epoch,
 * an atomic checkpoint after each epoch, the best-validation weights kept; then the test
 * accuracy of that checkpoint and, for fused models, its conditional utilization rates.
 * A run interrupted at any point resumes from its last checkpoint to the same result.
 */
export async function trainRun(method: Method, seed: number, ctx: RunContext): Promise<RunResult> {
  const { data, settings } = ctx;
  const resultFile = join(ctx.dir, 'result.json');
  if (existsSync(resultFile)) return readJson<RunResult>(resultFile);

  const modalities = modalitiesOf(method, settings);
  const stepsPerEpoch = data.train.numBatches(settings.batchSize, true);
  const model = buildModel(method, seed, settings);
  const optimizer = tf.train.momentum(settings.learningRate, settings.momentum);
  const fused = !isUnimodal(method);
  const trainer = new BalancedTrainer({
    model,
    optimizer,
    scheduler: buildScheduler(method, seed, settings, stepsPerEpoch),
    loss: method === 'rubi' ? rubiLoss() : undefined,
    learningSpeed: fused ? { logBase: settings.logBase } : false,
  });

  let startEpoch = 0;
  let best = { accuracy: -1, epoch: -1, step: -1, dSpeed: null as number | null };
  let bestWeights: tf.Tensor[] | undefined;
  let epochs: EpochLog[] = [];
  let steps: StepLog[] = [];
  let secondsBefore = 0;
  const checkpointDir = join(ctx.dir, 'checkpoint');

  if (existsSync(join(checkpointDir, 'state.json'))) {
    const state = readJson<CheckpointState>(join(checkpointDir, 'state.json'));
    const load = (file: string, manifest: TensorEntry[]) => unpackTensors(manifest, readFileSync(join(checkpointDir, file)), join(checkpointDir, file));
    const modelWeights = load('model.bin', state.manifests.model);
    const names = model.weights.map((w) => w.originalName);
    if (modelWeights.length !== names.length) {
      throw new Error(`checkpoint ${checkpointDir} holds ${modelWeights.length} model tensors, the model has ${names.length}: it was written with other settings. Delete it or resume with the run's own settings.`);
    }
    model.setWeights(modelWeights.map((w) => w.tensor));
    tf.dispose(modelWeights.map((w) => w.tensor));
    const optimizerWeights = load('optimizer.bin', state.manifests.optimizer);
    await optimizer.setWeights(optimizerWeights);
    // The optimizer copied them into its own slot variables.
    tf.dispose(optimizerWeights.map((w) => w.tensor));
    bestWeights = load('best.bin', state.manifests.best).map((w) => w.tensor);
    trainer.restore(state.trainer);
    startEpoch = state.epoch + 1;
    best = state.best;
    epochs = state.epochs;
    steps = state.steps;
    secondsBefore = state.seconds;
  }

  const started = Date.now();
  const elapsed = () => secondsBefore + (Date.now() - started) / 1000;
  let reachedTarget = epochs.length > 0 && settings.stopAtTrainAccuracy !== undefined && epochs[epochs.length - 1].trainAccuracy >= settings.stopAtTrainAccuracy;
  for (let epoch = startEpoch; epoch < settings.epochs && !reachedTarget; epoch++) {
    const epochStart = Date.now();
    let lossSum = 0;
    let index = 0;
    for (const batch of data.train.batches({ batchSize: settings.batchSize, shuffle: true, seed: seed * 1000 + settings.dataSeed, epoch, dropRemainder: true, modalities })) {
      const labeled = toLabeledBatch(batch);
      let result;
      try {
        result = trainer.step(labeled);
      } finally {
        disposeLabeledBatch(labeled);
      }
      lossSum += result.loss;
      steps.push({ step: result.step, loss: result.loss, kind: kindLabel(result.kind), dSpeed: result.dSpeed });
      ctx.onProgress?.({ method, seed, epoch, epochs: settings.epochs, step: index++, stepsPerEpoch, loss: result.loss, kind: kindLabel(result.kind), dSpeed: result.dSpeed, phase: 'train' });
      // Let queued work (stdout, signals) run between steps.
      if (index % 8 === 0) await new Promise((r) => setImmediate(r));
    }
    ctx.onProgress?.({ method, seed, epoch, epochs: settings.epochs, step: index, stepsPerEpoch, loss: lossSum / index, kind: '', dSpeed: trainer.speed?.dSpeed() ?? null, phase: 'evaluate' });
    const validation = await headAccuracies(model, tensorBatches(data.validation, modalities, 500));
    const train = await headAccuracies(model, tensorBatches(data.train, modalities, 500, settings.trainAccuracySamples));
    const dSpeed = trainer.speed?.dSpeed() ?? null;
    const log: EpochLog = {
      epoch,
      step: trainer.steps,
      meanLoss: lossSum / Math.max(1, index),
      validationAccuracy: validation.fused,
      validationHeadAccuracy: validation.heads,
      trainAccuracy: train.fused,
      dSpeed,
      seconds: (Date.now() - epochStart) / 1000,
    };
    epochs.push(log);
    if (validation.fused > best.accuracy) {
      best = { accuracy: validation.fused, epoch, step: trainer.steps, dSpeed };
      tf.dispose(bestWeights ?? []);
      bestWeights = model.getWeights().map((w) => tf.clone(w));
    }
    ctx.onEpoch?.(log, method, seed);
    reachedTarget = settings.stopAtTrainAccuracy !== undefined && train.fused >= settings.stopAtTrainAccuracy;
    const packedModel = packTensors(model.weights.map((w) => ({ name: w.originalName, tensor: w.read() })));
    const optimizerWeights = await optimizer.getWeights();
    const packedOptimizer = packTensors(optimizerWeights);
    // getWeights() returns the slot variables themselves plus a fresh iteration-count scalar.
    tf.dispose(optimizerWeights.map((w) => w.tensor).filter((t) => !(t instanceof tf.Variable)));
    const packedBest = packTensors(bestWeights!.map((t, i) => ({ name: model.weights[i].originalName, tensor: t })));
    const state: CheckpointState = {
      method,
      seed,
      epoch,
      trainer: trainer.state(),
      best,
      epochs,
      steps,
      seconds: elapsed(),
      manifests: { model: packedModel.manifest, optimizer: packedOptimizer.manifest, best: packedBest.manifest },
    };
    writeDirectoryAtomically(checkpointDir, {
      'state.json': JSON.stringify(state),
      'model.bin': packedModel.data,
      'optimizer.bin': packedOptimizer.data,
      'best.bin': packedBest.data,
    });
  }

  ctx.onProgress?.({ method, seed, epoch: settings.epochs, epochs: settings.epochs, step: 0, stepsPerEpoch, loss: Number.NaN, kind: '', dSpeed: null, phase: 'evaluate' });
  model.setWeights(bestWeights!);
  const test = await headAccuracies(model, tensorBatches(data.test, modalities, 500));
  const result: RunResult = {
    method,
    seed,
    testAccuracy: test.fused,
    testHeadAccuracy: test.heads,
    bestEpoch: best.epoch,
    bestStep: best.step,
    epochs,
    steps,
    seconds: 0,
  };
  if (fused) {
    result.dSpeed = best.dSpeed;
    // h̄ is recorded on the training data as stored (CG-MNIST has no augmentation to switch off).
    // A head with zero test accuracy has no utilization rate; the run's other results are kept.
    const { report, problem } = await tryConditionalUtilization(model, {
      train: () => tensorBatches(data.train, modalities, 500, settings.squeezeRecordingSamples),
      test: () => tensorBatches(data.test, modalities, 500),
    });
    if (report) Object.assign(result, { cutHeadAccuracy: report.cutHeadAccuracy, utilization: report.utilization, dUtil: report.dUtil });
    else result.utilizationError = problem;
  }
  result.seconds = elapsed();
  writeFileAtomically(resultFile, JSON.stringify(result));
  tf.dispose(bestWeights ?? []);
  model.dispose();
  optimizer.dispose();
  // tfjs 4.22's MomentumOptimizer.dispose() skips its parent's learning-rate scalar `c`.
  tf.dispose((optimizer as unknown as { c?: tf.Tensor }).c ?? []);
  return result;
}
