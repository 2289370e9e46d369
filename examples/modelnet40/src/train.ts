import { existsSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { BalancedTrainer, GuidedScheduler, RandomScheduler, VanillaScheduler, type Scheduler, type TrainingStepState } from '@mm/balance';
import { openModelNet40, type ModelNet40Split } from '@mm/datasets/modelnet40';
import { disposeLabeledBatch, headAccuracies, toLabeledBatch, tryConditionalUtilization, type HeadAccuracies, type LabeledBatch, type UtilizationReport } from '@mm/metrics';
import { countParams, fusedResNet18, importTorchResNet18, importTorchResNet18IntoBranches, readSafetensorsFile, resnet18SE } from '@mm/models';
import { decodeModelWeights, encodeModelWeights, loadLatestCheckpoint, saveCheckpoint, writeFileAtomically } from './checkpoint.js';
import { renderPanelsSvg } from './report.js';
import type { RunSettings } from './settings.js';

export interface EpochRecord {
  epoch: number;
  trainLoss: number;
  learningRate: number;
  steps: number;
  /** Re-balancing steps taken this epoch, per accelerated modality. */
  rebalanceSteps: number[];
  /** d_speed and s_k at the end of the epoch (null when not tracked or not yet defined). */
  dSpeed: number | null;
  speeds: (number | null)[];
  validation: HeadAccuracies;
  /** Training samples per second over the epoch (data loading + steps). */
  samplesPerSecond: number;
  /** Seconds the training loop waited for the loader. */
  loaderWaitSeconds: number;
  seconds: number;
}

export interface RunResults {
  settings: RunSettings;
  backend: string;
  dataset: { root: string; train: number; validation: number; test: number; skipped: number; skippedObjects: { id: string; split: string; reason: string }[] };
  model: { name: string; parameters: number; inputs: number };
  epochs: EpochRecord[];
  best: { epoch: number; validationAccuracy: number } | null;
  test: {
    fused: number;
    heads: number[];
    samples: number;
    utilization: UtilizationReport | null;
    /** Why the utilization rate could not be computed (a head with zero test accuracy), if so. */
    utilizationProblem: string | null;
  } | null;
  completed: boolean;
}

interface SavedState {
  /** Settings that must match on resume. */
  identity: Record<string, unknown>;
  epochsDone: number;
  trainer: TrainingStepState;
  learningRate: number;
  plateau: { best: number; badEpochs: number };
  history: EpochRecord[];
  best: RunResults['best'];
}

/** Fields that change the run's meaning: a resume with different values is refused. */
function identityOf(s: RunSettings): Record<string, unknown> {
  return { method: s.method, views: s.views, imageSize: s.imageSize, limit: s.limit ?? null, batchSize: s.batchSize, alpha: s.alpha, windowSize: s.windowSize, seed: s.seed, gateScale: s.gateScale, pretrained: s.pretrained ?? null };
}

async function* evaluationBatches(split: ModelNet40Split, batchSize: number): AsyncGenerator<LabeledBatch> {
  for await (const batch of split.batches({ batchSize, shuffle: false, augment: false })) yield toLabeledBatch(batch);
}

/** PyTorch's ReduceLROnPlateau (mode min, relative threshold 1e-4, no cooldown). */
function plateauStep(plateau: SavedState['plateau'], loss: number, patience: number): boolean {
  if (loss < plateau.best * (1 - 1e-4)) {
    plateau.best = loss;
    plateau.badEpochs = 0;
    return false;
  }
  plateau.badEpochs++;
  if (plateau.badEpochs > patience) {
    plateau.badEpochs = 0;
    return true;
  }
  return false;
}

const unimodalMethod = (settings: RunSettings) => settings.method === 'unimodal';

function buildModel(settings: RunSettings, numClasses: number): tfl.LayersModel {
  if (settings.method === 'unimodal') return resnet18SE({ numClasses, imageSize: settings.imageSize, se: { gateScale: settings.gateScale }, seed: settings.seed });
  return fusedResNet18({ numViews: settings.views.length, numClasses, imageSize: settings.imageSize, mmtm: { gateScale: settings.gateScale }, seed: settings.seed });
}

function buildScheduler(settings: RunSettings, warmupSteps: number): Scheduler {
  switch (settings.method) {
    case 'guided':
      return new GuidedScheduler({ alpha: settings.alpha, windowSize: settings.windowSize, warmupSteps });
    case 'random':
      return new RandomScheduler({ warmupSteps, numModalities: settings.views.length, seed: settings.seed });
    default:
      return new VanillaScheduler();
  }
}

function writeReport(out: string, results: RunResults): void {
  writeFileAtomically(join(out, 'results.json'), `${JSON.stringify(results, null, 2)}\n`);
  const epochs = results.epochs;
  const views = results.settings.views;
  const svg = renderPanelsSvg(`ModelNet40 ${results.settings.method}, views ${views.join(',')}, ${results.settings.imageSize}px, ${results.backend}`, [
    { title: 'training loss (Σ heads)', series: [{ label: 'train loss', values: epochs.map((e) => e.trainLoss) }] },
    {
      title: 'validation accuracy',
      yRange: [0, 1],
      series: [
        { label: 'mean of heads', values: epochs.map((e) => e.validation.fused) },
        ...(views.length > 1 ? views.map((v, k) => ({ label: `head m${k} (view ${v})`, values: epochs.map((e) => e.validation.heads[k] ?? null) })) : []),
      ],
    },
    ...(results.settings.method === 'unimodal' ? [] : [{ title: 'd_speed (end of epoch)', series: [{ label: 'd_speed', values: epochs.map((e) => e.dSpeed) }] }]),
  ]);
  writeFileAtomically(join(out, 'report.svg'), svg);
}

export interface RunHooks {
  /** Progress lines (default: stderr). */
  log?: (line: string) => void;
  /** Stop after this many epochs of this invocation (tests of resume). */
  stopAfterEpochs?: number;
}

/** Trains, validates every epoch, checkpoints atomically, and finally tests the best-validation weights. */
export async function runModelNet40(settings: RunSettings, backend: string, hooks: RunHooks = {}): Promise<RunResults> {
  const log = hooks.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const dataset = await openModelNet40({
    root: settings.data,
    views: settings.views,
    imageSize: settings.imageSize,
    limit: settings.limit,
    skipBadObjects: settings.skipBadObjects,
  });
  const numClasses = dataset.classes.length;
  log(`ModelNet40 ${settings.data}: ${dataset.train.size} train / ${dataset.validation.size} validation / ${dataset.test.size} test objects, views [${settings.views.join(', ')}], ${settings.imageSize}×${settings.imageSize}${dataset.skipped.length ? `, ${dataset.skipped.length} skipped` : ''}`);
  const model = buildModel(settings, numClasses);
  // A resumed run gets its weights from the checkpoint instead.
  if (settings.pretrained && !(settings.resume && existsSync(join(settings.out, 'checkpoint', 'latest.json')))) {
    try {
      const file = await readSafetensorsFile(settings.pretrained);
      const reports = unimodalMethod(settings)
        ? [importTorchResNet18(model, file, { namePrefix: 'm0_', skipHead: true, source: settings.pretrained })]
        : importTorchResNet18IntoBranches(model, file, { skipHead: true, source: settings.pretrained });
      log(`initialised ${reports.length} branch${reports.length > 1 ? 'es' : ''} from ${settings.pretrained} (${reports[0].loaded.length} tensors each; heads and fusion layers keep their initialisation)`);
    } catch (error) {
      model.dispose();
      throw error;
    }
  }
  const stepsPerEpoch = Math.ceil(dataset.train.size / settings.batchSize);
  const optimizer = tf.train.sgd(settings.learningRate);
  const unimodal = settings.method === 'unimodal';
  const trainer = new BalancedTrainer({
    model,
    optimizer,
    scheduler: buildScheduler(settings, stepsPerEpoch),
    learningSpeed: unimodal ? false : {},
  });
  log(`${model.name}: ${countParams(model).toLocaleString('en-US')} parameters, ${settings.method}, SGD lr ${settings.learningRate}, batch ${settings.batchSize}, ${stepsPerEpoch} steps/epoch`);

  try {
    let state: SavedState = {
      identity: identityOf(settings),
      epochsDone: 0,
      trainer: trainer.state(),
      learningRate: settings.learningRate,
      plateau: { best: Number.POSITIVE_INFINITY, badEpochs: 0 },
      history: [],
      best: null,
    };
    if (settings.resume) {
      const checkpoint = loadLatestCheckpoint<SavedState>(settings.out);
      if (checkpoint) {
        const saved = JSON.stringify(checkpoint.state.identity);
        if (saved !== JSON.stringify(state.identity)) {
          throw new Error(`--resume: the checkpoint in ${settings.out} was made with ${saved}, this run asks for ${JSON.stringify(state.identity)}. Use another --out or the same settings.`);
        }
        decodeModelWeights(model, checkpoint.weights, join(checkpoint.dir, 'weights.safetensors'));
        state = checkpoint.state;
        trainer.restore(state.trainer);
        optimizer.setLearningRate(state.learningRate);
        log(`resumed from ${checkpoint.dir}: ${state.epochsDone} epochs done, lr ${state.learningRate}`);
      } else {
        log(`--resume: no checkpoint in ${settings.out} yet, starting from scratch`);
      }
    }

    const results = (completed: boolean, test: RunResults['test']): RunResults => ({
      settings,
      backend,
      dataset: {
        root: settings.data,
        train: dataset.train.size,
        validation: dataset.validation.size,
        test: dataset.test.size,
        skipped: dataset.skipped.length,
        skippedObjects: dataset.skipped.slice(0, 100).map((s) => ({ ...s })),
      },
      model: { name: model.name, parameters: countParams(model), inputs: model.inputs.length },
      epochs: state.history,
      best: state.best,
      test,
      completed,
    });

    let epochsThisRun = 0;
    while (state.epochsDone < settings.epochs) {
      if (hooks.stopAfterEpochs !== undefined && epochsThisRun >= hooks.stopAfterEpochs) return results(false, null);
      const epoch = state.epochsDone;
      const started = performance.now();
      const waitBefore = dataset.train.throughput().waitSeconds;
      let lossSum = 0;
      let samples = 0;
      let steps = 0;
      const rebalanceSteps = settings.views.map(() => 0);
      for await (const batch of dataset.train.batches({ batchSize: settings.batchSize, seed: settings.seed, epoch })) {
        const labeled = toLabeledBatch(batch);
        let step;
        try {
          step = trainer.step(labeled);
        } finally {
          disposeLabeledBatch(labeled);
        }
        lossSum += step.loss * batch.size;
        samples += batch.size;
        steps++;
        if (step.kind.kind === 'rebalance') rebalanceSteps[step.kind.modality]++;
        if (steps % settings.logEvery === 0 || steps === stepsPerEpoch) {
          const rate = samples / ((performance.now() - started) / 1000);
          const kind = step.kind.kind === 'rebalance' ? `rebalance m${step.kind.modality}` : 'regular';
          log(`epoch ${epoch + 1}/${settings.epochs} step ${steps}/${stepsPerEpoch} loss ${step.loss.toFixed(4)} ${kind} d_speed ${step.dSpeed === null ? '—' : step.dSpeed.toFixed(4)} ${rate.toFixed(1)} samples/s`);
        }
      }
      const trainLoss = lossSum / Math.max(1, samples);
      const validation = await headAccuracies(model, evaluationBatches(dataset.validation, settings.batchSize));
      const seconds = (performance.now() - started) / 1000;
      const speedNow = trainer.speed;
      state.history.push({
        epoch: epoch + 1,
        trainLoss,
        learningRate: state.learningRate,
        steps,
        rebalanceSteps,
        dSpeed: speedNow?.dSpeed() ?? null,
        speeds: speedNow?.speeds() ?? [],
        validation,
        samplesPerSecond: samples / seconds,
        loaderWaitSeconds: dataset.train.throughput().waitSeconds - waitBefore,
        seconds,
      });
      log(`epoch ${epoch + 1}: train loss ${trainLoss.toFixed(4)}, validation accuracy ${(validation.fused * 100).toFixed(2)}% (heads ${validation.heads.map((a) => `${(a * 100).toFixed(1)}%`).join(', ')}), ${seconds.toFixed(1)} s`);
      if (state.best === null || validation.fused > state.best.validationAccuracy) {
        state.best = { epoch: epoch + 1, validationAccuracy: validation.fused };
        writeFileAtomically(join(settings.out, 'best.safetensors'), encodeModelWeights(model));
      }
      if (plateauStep(state.plateau, trainLoss, settings.plateauPatience)) {
        state.learningRate *= settings.plateauFactor;
        optimizer.setLearningRate(state.learningRate);
        log(`training loss has not improved for more than ${settings.plateauPatience} epochs: learning rate → ${state.learningRate}`);
      }
      state.epochsDone = epoch + 1;
      state.trainer = trainer.state();
      saveCheckpoint(settings.out, state.epochsDone, model, state);
      writeReport(settings.out, results(false, null));
      epochsThisRun++;
    }

    // Test the checkpoint with the best validation accuracy, as the paper does.
    const { readFileSync } = await import('node:fs');
    const bestFile = join(settings.out, 'best.safetensors');
    decodeModelWeights(model, readFileSync(bestFile), bestFile);
    const test = await headAccuracies(model, evaluationBatches(dataset.test, settings.batchSize));
    let utilization: UtilizationReport | null = null;
    let utilizationProblem: string | null = null;
    if (!unimodal) {
      // A head that gets nothing right has no rate, but the trained model and its accuracies
      // are still worth reporting.
      ({ report: utilization, problem: utilizationProblem } = await tryConditionalUtilization(model, {
        train: () => evaluationBatches(dataset.train, settings.batchSize),
        test: () => evaluationBatches(dataset.test, settings.batchSize),
      }));
      if (utilizationProblem !== null) log(`conditional utilization rate not computed: ${utilizationProblem}`);
    }
    log(`test accuracy (best validation epoch ${state.best?.epoch}): ${(test.fused * 100).toFixed(2)}%${utilization ? `, d_util ${utilization.dUtil.toFixed(4)}` : ''}`);
    const final = results(true, { fused: test.fused, heads: test.heads, samples: test.samples, utilization, utilizationProblem });
    writeReport(settings.out, final);
    return final;
  } finally {
    model.dispose();
    optimizer.dispose();
  }
}
