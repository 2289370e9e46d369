import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { BalancedTrainer, GuidedScheduler, RandomScheduler, VanillaScheduler, type Scheduler, type TrainingStepState } from '@mm/balance';
import { openNvGesture, NVGESTURE_NUM_CLASSES, type ClipMode, type NvGestureModality, type NvGestureSampleError, type NvGestureSplit } from '@mm/datasets/nvgesture';
import { disposeLabeledBatch, headAccuracies, toLabeledBatch, tryConditionalUtilization, type HeadAccuracies, type LabeledBatch, type UtilizationReport } from '@mm/metrics';
import { countParams, fusedI3D, i3dWithSqueezeExcite, importTorchI3D, readSafetensorsFile, torchToTfjs, type SafetensorsFile } from '@mm/models';
import { decodeModelWeights, encodeModelWeights, loadCheckpoint, restoreOptimizer, saveCheckpoint, writeFileAtomically } from './checkpoint.js';
import { renderReport } from './report.js';
import { resizeFor, type RunSettings } from './settings.js';

export interface EpochRecord {
  epoch: number;
  trainLoss: number;
  steps: number;
  /** Re-balancing steps this epoch, per accelerated modality. */
  rebalanceSteps: number[];
  dSpeed: number | null;
  validation: HeadAccuracies;
  /** Training clips per second over the epoch (decoding + steps). */
  clipsPerSecond: number;
  seconds: number;
}

export interface RunResults {
  settings: RunSettings;
  backend: string;
  dataset: { root: string; train: number; validation: number; test: number; malformedListLines: number; skippedSamples: { sample: string; problem: string }[] };
  model: { name: string; parameters: number; inputs: number };
  epochs: EpochRecord[];
  best: { epoch: number; validationAccuracy: number } | null;
  test: {
    fused: number;
    heads: number[];
    samples: number;
    utilization: UtilizationReport | null;
    /** Why the utilization rate could not be computed (e.g. a head with zero accuracy), if so. */
    utilizationProblem: string | null;
  } | null;
  completed: boolean;
}

interface SavedState {
  identity: Record<string, unknown>;
  epochsDone: number;
  trainer: TrainingStepState;
  history: EpochRecord[];
  best: RunResults['best'];
}

function identityOf(s: RunSettings): Record<string, unknown> {
  return { method: s.method, modality: s.modality, frames: s.frames, size: s.size, limit: s.limit, batchSize: s.batchSize, alpha: s.alpha, windowSize: s.windowSize, seed: s.seed, gateScale: s.gateScale, pretrained: s.pretrained };
}

const STEM_CONV = 'Conv3d_1a_7x7.conv3d';

/**
 * Loads Kinetics InceptionI3d weights into one branch, keeping its 25-class head. A one-channel
 * (depth) branch gets the RGB stem filters averaged over the three input channels.
 */
export function importPretrainedBranch(model: tfl.LayersModel, file: SafetensorsFile, namePrefix: string, channels: number, source: string): void {
  if (channels === 3) {
    importTorchI3D(model, file, { namePrefix, skipLogits: true, source });
    return;
  }
  importTorchI3D(model, file, { namePrefix, skipLogits: true, exclude: [STEM_CONV], source });
  const stem = file.tensors.get(`${STEM_CONV}.weight`);
  if (!stem || stem.shape.length !== 5) throw new Error(`${source}: no ${STEM_CONV}.weight of rank 5 to build the depth stem from`);
  const [out, inC, kd, kh, kw] = stem.shape;
  const rgb = stem.toFloat32();
  const averaged = new Float32Array(out * channels * kd * kh * kw);
  const taps = kd * kh * kw;
  for (let o = 0; o < out; o++) {
    for (let t = 0; t < taps; t++) {
      let sum = 0;
      for (let c = 0; c < inC; c++) sum += rgb[(o * inC + c) * taps + t];
      for (let c = 0; c < channels; c++) averaged[(o * channels + c) * taps + t] = sum / inC;
    }
  }
  const layout = torchToTfjs({ shape: [out, channels, kd, kh, kw], data: averaged }, 'conv3d');
  const kernel = model.getLayer(`${namePrefix}Conv3d_1a_7x7_conv3d`).weights[0];
  const value = tf.tensor(layout.data, layout.shape as number[]);
  kernel.write(value);
  value.dispose();
}

function buildModel(settings: RunSettings): tfl.LayersModel {
  const common = { numClasses: NVGESTURE_NUM_CLASSES, frames: settings.frames, imageSize: settings.size, seed: settings.seed };
  if (settings.method === 'unimodal') {
    return i3dWithSqueezeExcite({ ...common, inChannels: settings.modality === 'rgb' ? 3 : 1, squeezeExcite: { gateScale: settings.gateScale } });
  }
  return fusedI3D({ ...common, inChannels: [3, 1], mmtm: { gateScale: settings.gateScale } });
}

function buildScheduler(settings: RunSettings, warmupSteps: number): Scheduler {
  switch (settings.method) {
    case 'guided':
      return new GuidedScheduler({ alpha: settings.alpha, windowSize: settings.windowSize, warmupSteps });
    case 'random':
      return new RandomScheduler({ warmupSteps, numModalities: 2, seed: settings.seed });
    default:
      return new VanillaScheduler();
  }
}

export interface RunHooks {
  log?: (line: string) => void;
  /** Stop after this many epochs of this invocation (tests of resume). */
  stopAfterEpochs?: number;
}

/** Trains on NVGesture, validates every epoch, checkpoints atomically, tests the best-validation weights. */
export async function runNvGesture(settings: RunSettings, backend: string, hooks: RunHooks = {}): Promise<RunResults> {
  const log = hooks.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const splits = openNvGesture({
    root: settings.data,
    validationSeed: settings.seed,
    onMalformed: settings.skipBad ? 'skip' : 'throw',
    limit: settings.limit ?? undefined,
    frames: settings.frames,
    resize: resizeFor(settings.size),
    crop: settings.size,
  });
  const { train, validation, test } = splits;
  const unimodal = settings.method === 'unimodal';
  const modalities: NvGestureModality[] = unimodal ? [settings.modality] : ['rgb', 'depth'];
  const skipped = new Map<string, string>();
  const noteSkipped = (errors: readonly NvGestureSampleError[]) => {
    for (const e of errors) skipped.set(e.sample.path, e.problem);
  };
  log(`NVGesture ${settings.data}: ${train.size} train / ${validation.size} validation / ${test.size} test samples, ${settings.frames}×${settings.size}×${settings.size} clips${splits.malformed.length ? `, ${splits.malformed.length} malformed list lines skipped` : ''}`);

  const batches = async function* (split: NvGestureSplit, mode: ClipMode, epoch = 0): AsyncGenerator<LabeledBatch> {
    for await (const batch of split.batches({
      batchSize: settings.batchSize,
      modalities,
      augment: mode === 'train',
      shuffle: mode === 'train',
      seed: settings.seed,
      epoch,
      concurrency: settings.concurrency,
      onError: settings.skipBad ? 'skip' : 'throw',
      onProgress: (_, errors) => noteSkipped(errors),
    })) {
      yield toLabeledBatch(batch);
    }
  };

  const model = buildModel(settings);
  if (settings.pretrained) {
    const file = await readSafetensorsFile(settings.pretrained);
    if (unimodal) importPretrainedBranch(model, file, 'm0_', settings.modality === 'rgb' ? 3 : 1, settings.pretrained);
    else {
      importPretrainedBranch(model, file, 'm0_', 3, settings.pretrained);
      importPretrainedBranch(model, file, 'm1_', 1, settings.pretrained);
    }
    log(`loaded pretrained I3D weights from ${settings.pretrained} (heads and fusion layers keep their initialisation)`);
  }
  const stepsPerEpoch = train.numBatches(settings.batchSize);
  const optimizer = tf.train.momentum(settings.learningRate, settings.momentum);
  const trainer = new BalancedTrainer({ model, optimizer, scheduler: buildScheduler(settings, stepsPerEpoch), learningSpeed: unimodal ? false : {} });
  log(`${model.name}: ${countParams(model).toLocaleString('en-US')} parameters, ${settings.method}, SGD lr ${settings.learningRate} momentum ${settings.momentum}, batch ${settings.batchSize}, ${stepsPerEpoch} steps/epoch`);

  try {
    let state: SavedState = { identity: identityOf(settings), epochsDone: 0, trainer: trainer.state(), history: [], best: null };
    if (settings.resume) {
      const checkpoint = loadCheckpoint<SavedState>(settings.out);
      if (checkpoint) {
        const saved = JSON.stringify(checkpoint.state.identity);
        if (saved !== JSON.stringify(state.identity)) {
          throw new Error(`--resume: the checkpoint in ${settings.out} was made with ${saved}, this run asks for ${JSON.stringify(state.identity)}. Use another --out or the same settings.`);
        }
        decodeModelWeights(model, checkpoint.weights, join(checkpoint.dir, 'weights.safetensors'));
        if (checkpoint.optimizer) await restoreOptimizer(optimizer, checkpoint.optimizer, join(checkpoint.dir, 'optimizer.safetensors'));
        state = checkpoint.state;
        trainer.restore(state.trainer);
        log(`resumed from ${checkpoint.dir}: ${state.epochsDone} epochs done`);
      } else {
        log(`--resume: no checkpoint in ${settings.out} yet, starting from scratch`);
      }
    }

    const results = (completed: boolean, testResult: RunResults['test']): RunResults => ({
      settings,
      backend,
      dataset: {
        root: settings.data,
        train: train.size,
        validation: validation.size,
        test: test.size,
        malformedListLines: splits.malformed.length,
        skippedSamples: [...skipped].map(([sample, problem]) => ({ sample, problem })),
      },
      model: { name: model.name, parameters: countParams(model), inputs: model.inputs.length },
      epochs: state.history,
      best: state.best,
      test: testResult,
      completed,
    });
    const writeResults = (r: RunResults) => {
      writeFileAtomically(join(settings.out, 'results.json'), `${JSON.stringify(r, null, 2)}\n`);
      writeFileAtomically(join(settings.out, 'report.md'), renderReport(r));
    };

    let epochsThisRun = 0;
    while (state.epochsDone < settings.epochs) {
      if (hooks.stopAfterEpochs !== undefined && epochsThisRun >= hooks.stopAfterEpochs) return results(false, null);
      const epoch = state.epochsDone;
      const started = performance.now();
      let lossSum = 0;
      let clips = 0;
      let steps = 0;
      const rebalanceSteps = unimodal ? [0] : [0, 0];
      let dSpeed: number | null = null;
      for await (const labeled of batches(train, 'train', epoch)) {
        let step;
        const size = labeled.labels.shape[0];
        try {
          step = trainer.step(labeled);
        } finally {
          disposeLabeledBatch(labeled);
        }
        lossSum += step.loss * size;
        clips += size;
        steps++;
        dSpeed = step.dSpeed;
        if (step.kind.kind === 'rebalance') rebalanceSteps[step.kind.modality]++;
        if (steps % settings.logEvery === 0 || steps === stepsPerEpoch) {
          const rate = clips / ((performance.now() - started) / 1000);
          const kind = step.kind.kind === 'rebalance' ? `rebalance m${step.kind.modality}` : 'regular';
          log(`epoch ${epoch + 1}/${settings.epochs} step ${steps}/${stepsPerEpoch} loss ${step.loss.toFixed(4)} ${kind} d_speed ${step.dSpeed === null ? '—' : step.dSpeed.toFixed(4)} ${rate.toFixed(2)} clips/s`);
        }
      }
      const trainLoss = lossSum / Math.max(1, clips);
      const validationAccuracy = await headAccuracies(model, batches(validation, 'eval'));
      const seconds = (performance.now() - started) / 1000;
      state.history.push({ epoch: epoch + 1, trainLoss, steps, rebalanceSteps, dSpeed, validation: validationAccuracy, clipsPerSecond: clips / seconds, seconds });
      log(`epoch ${epoch + 1}: train loss ${trainLoss.toFixed(4)}, validation accuracy ${(validationAccuracy.fused * 100).toFixed(2)}% (heads ${validationAccuracy.heads.map((a) => `${(a * 100).toFixed(1)}%`).join(', ')}), ${seconds.toFixed(1)} s`);
      if (state.best === null || validationAccuracy.fused > state.best.validationAccuracy) {
        state.best = { epoch: epoch + 1, validationAccuracy: validationAccuracy.fused };
        writeFileAtomically(join(settings.out, 'best.safetensors'), encodeModelWeights(model));
      }
      state.epochsDone = epoch + 1;
      state.trainer = trainer.state();
      await saveCheckpoint(settings.out, model, optimizer, state);
      writeResults(results(false, null));
      epochsThisRun++;
    }

    // The paper keeps the checkpoint with the best validation accuracy.
    const bestFile = join(settings.out, 'best.safetensors');
    decodeModelWeights(model, readFileSync(bestFile), bestFile);
    const testAccuracy = await headAccuracies(model, batches(test, 'eval'));
    let utilization: UtilizationReport | null = null;
    let utilizationProblem: string | null = null;
    if (!unimodal) {
      // Squeeze means for Eq. 7 are recorded on training clips without augmentation. A head
      // that gets nothing right (tiny runs) has no rate: reported, not fatal.
      ({ report: utilization, problem: utilizationProblem } = await tryConditionalUtilization(model, { train: () => batches(train, 'eval'), test: () => batches(test, 'eval') }));
      if (utilizationProblem !== null) log(`conditional utilization rate not computed: ${utilizationProblem}`);
    }
    log(`test accuracy (best validation epoch ${state.best?.epoch}): ${(testAccuracy.fused * 100).toFixed(2)}%${utilization ? `, d_util ${utilization.dUtil.toFixed(4)}` : ''}${skipped.size ? `, ${skipped.size} samples skipped` : ''}`);
    const final = results(true, { fused: testAccuracy.fused, heads: testAccuracy.heads, samples: testAccuracy.samples, utilization, utilizationProblem });
    writeResults(final);
    return final;
  } finally {
    model.dispose();
    optimizer.dispose();
  }
}
