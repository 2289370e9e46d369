import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { BalancedTrainer } from '@mm/balance';
import { openModelNet40, type ModelNet40Split } from '@mm/datasets/modelnet40';
import { describeGreedy, paperBalancer, summaryLine, reduceOnPlateau, runExperiment, writeExperimentReport, reproductionResults, type ExperimentHooks, type ReproductionResults } from '@mm/example-kit';
import { toLabeledBatch, type LabeledBatch } from '@mm/metrics';
import { countParams, fusedResNet18, importTorchResNet18, importTorchResNet18IntoBranches, readSafetensorsFile, resnet18SE } from '@mm/models';
import type { ModelNet40Config } from './config.js';

export type ModelNet40Results = ReproductionResults<ModelNet40Config, { root: string; classes: number; train: number; validation: number; test: number; skipped: number; skippedObjects: { id: string; split: string; reason: string }[] }>;

function buildModel(config: ModelNet40Config, numClasses: number): tfl.LayersModel {
  if (config.method === 'unimodal') return resnet18SE({ numClasses, imageSize: config.imageSize, se: { gateScale: config.gateScale }, seed: config.seed });
  return fusedResNet18({ numViews: config.views.length, numClasses, imageSize: config.imageSize, mmtm: { gateScale: config.gateScale }, seed: config.seed });
}

async function importPretrained(model: tfl.LayersModel, config: ModelNet40Config, log: (line: string) => void): Promise<void> {
  const file = await readSafetensorsFile(config.pretrained!);
  const reports =
    config.method === 'unimodal'
      ? [importTorchResNet18(model, file, { namePrefix: 'm0_', skipHead: true, source: config.pretrained! })]
      : importTorchResNet18IntoBranches(model, file, { skipHead: true, source: config.pretrained! });
  log(`initialised ${reports.length} branch${reports.length > 1 ? 'es' : ''} from ${config.pretrained} (${reports[0].loaded.length} tensors each; heads and fusion layers keep their initialisation)`);
}

async function* evaluationBatches(split: ModelNet40Split, batchSize: number): AsyncGenerator<LabeledBatch> {
  for await (const batch of split.batches({ batchSize, shuffle: false, augment: false })) yield toLabeledBatch(batch);
}

/**
 * The paper's ModelNet40 experiment: SGD without momentum and ReduceLROnPlateau on the training
 * loss, validation every epoch, atomic checkpoints (calling it again on the same folder resumes),
 * then the best-validation weights on the test split. Writes results.json and report.html.
 */
export async function run(config: ModelNet40Config, hooks: ExperimentHooks): Promise<ModelNet40Results> {
  const log = hooks.log ?? (() => {});
  const dataset = await openModelNet40({ root: config.data, views: config.views, imageSize: config.imageSize, limit: config.limit ?? undefined, skipBadObjects: config.skipBadObjects });
  const numClasses = dataset.classes.length;
  log(`ModelNet40 ${config.data}: ${dataset.train.size} train / ${dataset.validation.size} validation / ${dataset.test.size} test objects, views [${config.views.join(', ')}], ${config.imageSize}×${config.imageSize}${dataset.skipped.length ? `, ${dataset.skipped.length} skipped` : ''}`);
  const model = buildModel(config, numClasses);
  const stepsPerEpoch = dataset.train.numBatches(config.batchSize);
  const balancer = paperBalancer(config.method, { alpha: config.alpha, windowSize: config.windowSize, warmupSteps: stepsPerEpoch, numModalities: config.views.length, seed: config.seed });
  const trainer = new BalancedTrainer({ model, optimizer: tf.train.sgd(config.learningRate), balancer });
  try {
    // A resumed run takes its weights from the checkpoint; loading them first is harmless.
    if (config.pretrained) await importPretrained(model, config, log);
    log(`${model.name}: ${countParams(model).toLocaleString('en-US')} parameters, ${config.method}, SGD lr ${config.learningRate}, batch ${config.batchSize}, ${stepsPerEpoch} steps/epoch`);
    const result = await runExperiment({
      trainer,
      dir: hooks.dir,
      epochs: config.epochs,
      stepsPerEpoch,
      trainBatches: (epoch) => dataset.train.batches({ batchSize: config.batchSize, seed: config.seed, epoch }),
      validation: () => evaluationBatches(dataset.validation, config.batchSize),
      test: () => evaluationBatches(dataset.test, config.batchSize),
      // Recorded without augmentation (the reference code records h̄ with flips on).
      squeezeTrain: () => evaluationBatches(dataset.train, config.batchSize),
      schedule: reduceOnPlateau({ factor: config.plateauFactor, patience: config.plateauPatience, initial: config.learningRate }),
      identity: { method: config.method, views: config.views, imageSize: config.imageSize, limit: config.limit, batchSize: config.batchSize, seed: config.seed },
      label: `modelnet40 ${config.method}`,
      describe: describeGreedy,
      progress: hooks.progress,
      log,
      onEpoch: hooks.onEpoch,
    });
    const results: ModelNet40Results = reproductionResults(result, { settings: config, backend: hooks.backend, model, dataset: { root: config.data, classes: numClasses, train: dataset.train.size, validation: dataset.validation.size, test: dataset.test.size, skipped: dataset.skipped.length, skippedObjects: dataset.skipped.slice(0, 100).map((s) => ({ ...s })) } });
    const summary = summaryLine(result);
    await writeExperimentReport(hooks.dir, `ModelNet40 ${config.method}, views ${config.views.join(',')}, ${config.imageSize}px, ${hooks.backend}`, results, config.views.map((v) => `view ${v}`), summary);
    return results;
  } finally {
    trainer.dispose();
    model.dispose();
  }
}
