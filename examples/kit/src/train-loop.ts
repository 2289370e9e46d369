import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { join } from 'node:path';
import { CheckpointError, type BalancedTrainer, type StepMetrics, type StoredTensor } from '@mm/balance';
import type { MultiModalBatch } from '@mm/datasets';
import { toLabeledBatch, type BatchSource } from '@mm/metrics';
import { checkpointDir, loadCheckpoint, readCheckpointLoop, RunCheckpointError, saveCheckpoint } from './checkpoint.js';
import { settleDirectory } from './files.js';
import type { ProgressEvent } from './progress.js';

export interface StepLog {
  step: number;
  loss: number;
  metrics: StepMetrics;
}

export interface EpochLog {
  epoch: number;
  /** Steps taken by the end of this epoch. */
  step: number;
  meanLoss: number;
  validationAccuracy: number;
  /** Accuracy of each modality's logits on the validation split (null when the model has none). */
  validationModalityAccuracy: number[] | null;
  /** Accuracy on (part of) the training split, for the stopping rule; null when not measured. */
  trainAccuracy: number | null;
  /** The method's metrics after the epoch's last step. */
  metrics: StepMetrics;
  learningRate: number | null;
  /** Seconds of the epoch's training steps (data included, evaluation not). */
  trainSeconds: number;
  seconds: number;
}

export interface BestEpoch {
  epoch: number;
  step: number;
  validationAccuracy: number;
  /** The method's metrics at that step (e.g. d_speed at T, the step of the best validation accuracy). */
  metrics: StepMetrics;
}

/** Something that changes the learning rate between epochs (e.g. reduce on plateau); its state is checkpointed. */
export interface EpochSchedule {
  /** Called after each epoch with its log; returns the learning rate for the next epoch, or undefined to keep it. */
  afterEpoch(log: EpochLog): number | undefined;
  state(): unknown;
  restore(state: unknown): void;
}

export interface TrainLoopOptions<M extends StepMetrics> {
  trainer: BalancedTrainer<M>;
  /** The run's folder: the checkpoint goes to `<dir>/checkpoint` after every epoch. */
  dir: string;
  epochs: number;
  stepsPerEpoch: number;
  /** Epoch e's training batches (the same for the same e, so a resumed run sees the same data). */
  trainBatches: (epoch: number) => Iterable<MultiModalBatch> | AsyncIterable<MultiModalBatch>;
  /** Validation batches, for the best-epoch choice. */
  validation: () => BatchSource;
  /** Training batches for the training accuracy of the stopping rule. */
  trainAccuracy?: () => BatchSource;
  /** Stop once the training accuracy reaches this (the paper trains to 100 %). */
  stopAtTrainAccuracy?: number;
  /** Batches handed to `trainer.startEpoch` for methods that look at data between epochs. */
  epochData?: { train?: () => BatchSource; validation?: () => BatchSource };
  schedule?: EpochSchedule;
  /** The settings that must match when resuming (compared as JSON). */
  identity?: unknown;
  /** `label` of progress events, e.g. 'guided seed 1'. */
  label?: string;
  /** The method's state in a few words for the progress line. */
  describe?: (metrics: M) => string;
  progress?: (event: ProgressEvent) => void;
  /** Called after each epoch's log, before its checkpoint (tests use it to simulate a crash). */
  onEpoch?: (log: EpochLog) => void;
  /** Keep every step's loss and metrics in the result (default true). */
  keepSteps?: boolean;
}

export interface TrainLoopResult {
  epochs: EpochLog[];
  steps: StepLog[];
  best: BestEpoch;
  /** Whether the stopping rule's training accuracy was reached. */
  reachedTarget: boolean;
  /** Training and evaluation seconds over every session of this run. */
  seconds: number;
}

interface LoopState {
  identity: unknown;
  epochs: EpochLog[];
  steps: StepLog[];
  best: BestEpoch | null;
  seconds: number;
  schedule: unknown;
}

const BEST = 'best/';

/** Epochs a run's checkpoint holds (0 without one): where `trainEpochs` in that folder will continue. */
export function checkpointedEpochs(runDir: string): number {
  return readCheckpointLoop<LoopState>(runDir)?.epochs.length ?? 0;
}

function learningRateOf(optimizer: tf.Optimizer): number | null {
  const rate = (optimizer as unknown as { learningRate?: unknown }).learningRate;
  return typeof rate === 'number' ? rate : null;
}

function setLearningRate(optimizer: tf.Optimizer, rate: number): void {
  const o = optimizer as unknown as { setLearningRate?: (r: number) => void; learningRate: number };
  if (typeof o.setLearningRate === 'function') o.setLearningRate(rate);
  else o.learningRate = rate;
}

/**
 * The epoch loop every example shares: steps over each epoch's batches, validation after each
 * epoch, the best-validation weights kept, the stopping rule, a learning-rate schedule, and an
 * atomic checkpoint after every epoch from which a killed run resumes to the same result. At the
 * end the model holds the best-validation weights (the paper evaluates that checkpoint).
 */
export async function trainEpochs<M extends StepMetrics>(o: TrainLoopOptions<M>): Promise<TrainLoopResult> {
  const { trainer } = o;
  const model = trainer.model;
  const keepSteps = o.keepSteps ?? true;
  let state: LoopState = { identity: o.identity ?? null, epochs: [], steps: [], best: null, seconds: 0, schedule: o.schedule?.state() ?? null };
  let best: Record<string, StoredTensor> = {};

  // This process owns the run from here on: what killed writers left beside the checkpoint goes.
  settleDirectory(checkpointDir(o.dir));
  const saved = loadCheckpoint<LoopState>(o.dir);
  if (saved) {
    if (JSON.stringify(saved.loop.identity) !== JSON.stringify(state.identity)) {
      throw new Error(`the checkpoint in ${o.dir} was made with other settings (${JSON.stringify(saved.loop.identity)}, now ${JSON.stringify(state.identity)}); resume it with its own settings or start another run`);
    }
    checkLoopState(saved.loop, saved.extra, saved.trainer.json?.step, model, stateFile(o.dir));
    try {
      await trainer.restore(saved.trainer);
    } catch (error) {
      if (!CheckpointError.isInstance(error)) throw error;
      throw new RunCheckpointError(stateFile(o.dir), error.message, { cause: error });
    }
    state = saved.loop;
    best = saved.extra;
    if (o.schedule) o.schedule.restore(state.schedule);
  }

  const started = Date.now();
  // Seconds of earlier sessions of this run (from its checkpoint), plus this session's.
  const before = state.seconds;
  const elapsed = () => before + (Date.now() - started) / 1000;
  const lastEpoch = state.epochs.at(-1);
  let reachedTarget = lastEpoch !== undefined && o.stopAtTrainAccuracy !== undefined && (lastEpoch.trainAccuracy ?? 0) >= o.stopAtTrainAccuracy;
  const progress = (event: Omit<ProgressEvent, 'label' | 'epochs' | 'stepsPerEpoch'>) => o.progress?.({ label: o.label ?? '', epochs: o.epochs, stepsPerEpoch: o.stepsPerEpoch, ...event });

  for (let epoch = state.epochs.length; epoch < o.epochs && !reachedTarget; epoch++) {
    const epochStart = Date.now();
    await trainer.startEpoch({ epoch, stepsPerEpoch: o.stepsPerEpoch, train: o.epochData?.train, validation: o.epochData?.validation });
    let lossSum = 0;
    let index = 0;
    let metrics = {} as M;
    let stepSeconds = 0;
    let last = Date.now();
    for await (const batch of o.trainBatches(epoch)) {
      const labeled = toLabeledBatch(batch);
      let result;
      try {
        result = trainer.step(labeled);
      } finally {
        tf.dispose([...labeled.inputs, labeled.labels]);
      }
      lossSum += result.loss;
      metrics = result.metrics;
      if (keepSteps) state.steps.push({ step: result.step, loss: result.loss, metrics: result.metrics });
      progress({ epoch, phase: 'train', step: index++, loss: result.loss, detail: o.describe?.(result.metrics) ?? '' });
      // Let queued work (output, signals) run between steps.
      if (index % 8 === 0) await new Promise((resolve) => setImmediate(resolve));
      const now = Date.now();
      stepSeconds += (now - last) / 1000;
      last = now;
    }
    progress({ epoch, phase: 'evaluate', step: index, loss: lossSum / Math.max(1, index), detail: '' });
    const validation = await trainer.evaluate(o.validation());
    const train = o.trainAccuracy ? await trainer.evaluate(o.trainAccuracy()) : null;
    const log: EpochLog = {
      epoch,
      step: trainer.steps,
      meanLoss: lossSum / Math.max(1, index),
      validationAccuracy: validation.accuracy,
      validationModalityAccuracy: validation.modalityAccuracy,
      trainAccuracy: train?.accuracy ?? null,
      metrics,
      learningRate: learningRateOf(trainer.optimizer),
      trainSeconds: stepSeconds,
      seconds: (Date.now() - epochStart) / 1000,
    };
    state.epochs.push(log);
    if (state.best === null || validation.accuracy > state.best.validationAccuracy) {
      state.best = { epoch, step: trainer.steps, validationAccuracy: validation.accuracy, metrics };
      best = Object.fromEntries(
        model.weights.map((w) => {
          const values = w.read().dataSync();
          return [`${BEST}${w.originalName}`, { shape: [...w.shape] as number[], dtype: 'float32' as const, data: Float32Array.from(values) }];
        }),
      );
    }
    o.onEpoch?.(log);
    reachedTarget = o.stopAtTrainAccuracy !== undefined && log.trainAccuracy !== null && log.trainAccuracy >= o.stopAtTrainAccuracy;
    const rate = o.schedule?.afterEpoch(log);
    if (rate !== undefined) setLearningRate(trainer.optimizer, rate);
    state.schedule = o.schedule?.state() ?? null;
    state.seconds = elapsed();
    saveCheckpoint(o.dir, { trainer: await trainer.checkpoint(), loop: state, extra: best });
  }

  if (state.best === null) throw new Error(`no epoch was trained in ${o.dir} (epochs = ${o.epochs})`);
  // Evaluate the best-validation weights, as the paper does.
  tf.tidy(() => {
    for (const w of model.weights) {
      const stored = best[`${BEST}${w.originalName}`];
      if (!stored) throw new Error(`the best weights lack ${w.originalName}`);
      w.write(tf.tensor(stored.data, stored.shape, w.dtype));
    }
  });
  return { epochs: state.epochs, steps: state.steps, best: state.best, reachedTarget, seconds: elapsed() };
}

const stateFile = (dir: string) => join(checkpointDir(dir), 'state.json');

/**
 * The loop's part of a checkpoint, checked before the run continues from it: epoch logs that end
 * at the trainer's step, and best-validation weights of the model's shapes once there is a best
 * epoch (a tampered or mixed-up checkpoint would otherwise fail later, or evaluate wrong weights).
 */
function checkLoopState(loop: LoopState, extra: Record<string, StoredTensor>, trainerStep: unknown, model: tfl.LayersModel, file: string): void {
  const fail = (problem: string): never => {
    throw new RunCheckpointError(file, problem);
  };
  if (!Array.isArray(loop.epochs) || !loop.epochs.every((e) => e !== null && typeof e === 'object' && Number.isInteger(e.epoch) && Number.isInteger(e.step))) fail('the loop state has no list of epoch logs');
  if (!Array.isArray(loop.steps)) fail('the loop state has no list of steps');
  if (typeof loop.seconds !== 'number') fail('the loop state has no seconds');
  if (loop.epochs.some((e, i) => e.epoch !== i)) fail(`the epoch logs are not epochs 0…${loop.epochs.length - 1}`);
  const last = loop.epochs.at(-1);
  if (last && last.step !== trainerStep) fail(`the last epoch log ends at step ${last.step}, the trainer's state at step ${JSON.stringify(trainerStep)}`);
  if ((loop.best === null) !== (loop.epochs.length === 0)) fail('the best epoch and the epoch logs disagree');
  if (loop.best === null) return;
  if (typeof loop.best !== 'object' || !Number.isInteger(loop.best.epoch) || loop.best.epoch >= loop.epochs.length) fail(`the best epoch ${JSON.stringify(loop.best)} is not one of the ${loop.epochs.length} epochs`);
  for (const w of model.weights) {
    const stored = extra[`${BEST}${w.originalName}`];
    if (!stored) fail(`the best weights lack ${w.originalName}`);
    if (stored.shape.join(',') !== w.shape.join(',')) fail(`the best weight ${w.originalName} has shape [${stored.shape}], the model's [${w.shape}]`);
  }
}

/** PyTorch's ReduceLROnPlateau (mode min on the epoch's mean training loss, relative threshold 1e-4, no cooldown). */
export function reduceOnPlateau(options: { factor: number; patience: number; initial: number }): EpochSchedule {
  let s = { best: Number.POSITIVE_INFINITY, badEpochs: 0, rate: options.initial };
  return {
    afterEpoch(log) {
      if (log.meanLoss < s.best * (1 - 1e-4)) {
        s.best = log.meanLoss;
        s.badEpochs = 0;
        return undefined;
      }
      s.badEpochs++;
      if (s.badEpochs <= options.patience) return undefined;
      s.badEpochs = 0;
      s.rate *= options.factor;
      return s.rate;
    },
    state: () => ({ ...s }),
    restore(state) {
      s = { ...(state as typeof s) };
    },
  };
}
