import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { BalancedTrainer } from '@mm/balance';
import { openNvGesture, NVGESTURE_NUM_CLASSES, type NvGestureModality, type NvGestureSampleError, type NvGestureSplit } from '@mm/datasets/nvgesture';
import { describeGreedy, paperBalancer, summaryLine, runExperiment, writeExperimentReport, reproductionResults, type ExperimentHooks, type ReproductionResults } from '@mm/example-kit';
import { toLabeledBatch, type LabeledBatch } from '@mm/metrics';
import { countParams, fusedI3D, i3dWithSqueezeExcite, importTorchI3D, readSafetensorsFile, torchToTfjs, type SafetensorsFile } from '@mm/models';
import { resizeFor, type NvGestureConfig } from './config.js';

export type NvGestureResults = ReproductionResults<NvGestureConfig, { root: string; train: number; validation: number; test: number; malformedListLines: number; skippedSamples: { sample: string; problem: string }[] }>;

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

function buildModel(config: NvGestureConfig): tfl.LayersModel {
  const common = { numClasses: NVGESTURE_NUM_CLASSES, frames: config.frames, imageSize: config.size, seed: config.seed };
  if (config.method === 'unimodal') {
    return i3dWithSqueezeExcite({ ...common, inChannels: config.modality === 'rgb' ? 3 : 1, squeezeExcite: { gateScale: config.gateScale } });
  }
  return fusedI3D({ ...common, inChannels: [3, 1], mmtm: { gateScale: config.gateScale } });
}

/**
 * The paper's NVGesture experiment: RGB + depth clips, SGD with momentum, validation every
 * epoch, atomic checkpoints (calling it again on the same folder resumes), then the
 * best-validation weights on the test split. Writes results.json and report.html.
 */
export async function run(config: NvGestureConfig, hooks: ExperimentHooks): Promise<NvGestureResults> {
  const log = hooks.log ?? (() => {});
  const splits = openNvGesture({
    root: config.data,
    validationSeed: config.seed,
    onMalformed: config.skipBad ? 'skip' : 'throw',
    limit: config.limit ?? undefined,
    frames: config.frames,
    resize: resizeFor(config.size),
    crop: config.size,
  });
  const { train, validation, test } = splits;
  const unimodal = config.method === 'unimodal';
  const modalities: NvGestureModality[] = unimodal ? [config.modality] : ['rgb', 'depth'];
  const skipped = new Map<string, string>();
  const noteSkipped = (errors: readonly NvGestureSampleError[]) => {
    for (const e of errors) skipped.set(e.sample.path, e.problem);
  };
  log(`NVGesture ${config.data}: ${train.size} train / ${validation.size} validation / ${test.size} test samples, ${config.frames}×${config.size}×${config.size} clips${splits.malformed.length ? `, ${splits.malformed.length} malformed list lines skipped` : ''}`);
  const loader = { batchSize: config.batchSize, modalities, concurrency: config.concurrency, onError: config.skipBad ? ('skip' as const) : ('throw' as const), onProgress: (_: unknown, errors: readonly NvGestureSampleError[]) => noteSkipped(errors) };
  async function* evaluationBatches(split: NvGestureSplit): AsyncGenerator<LabeledBatch> {
    for await (const batch of split.batches({ ...loader, augment: false, shuffle: false })) yield toLabeledBatch(batch);
  }

  const model = buildModel(config);
  const stepsPerEpoch = train.numBatches(config.batchSize);
  const balancer = paperBalancer(config.method, { alpha: config.alpha, windowSize: config.windowSize, warmupSteps: stepsPerEpoch, numModalities: 2, seed: config.seed });
  const trainer = new BalancedTrainer({ model, optimizer: tf.train.momentum(config.learningRate, config.momentum), balancer });
  try {
    if (config.pretrained) {
      const file = await readSafetensorsFile(config.pretrained);
      if (unimodal) importPretrainedBranch(model, file, 'm0_', config.modality === 'rgb' ? 3 : 1, config.pretrained);
      else {
        importPretrainedBranch(model, file, 'm0_', 3, config.pretrained);
        importPretrainedBranch(model, file, 'm1_', 1, config.pretrained);
      }
      log(`loaded pretrained I3D weights from ${config.pretrained} (heads and fusion layers keep their initialisation)`);
    }
    log(`${model.name}: ${countParams(model).toLocaleString('en-US')} parameters, ${config.method}, SGD lr ${config.learningRate} momentum ${config.momentum}, batch ${config.batchSize}, ${stepsPerEpoch} steps/epoch`);
    const result = await runExperiment({
      trainer,
      dir: hooks.dir,
      epochs: config.epochs,
      stepsPerEpoch,
      trainBatches: (epoch) => train.batches({ ...loader, augment: true, shuffle: true, seed: config.seed, epoch }),
      validation: () => evaluationBatches(validation),
      test: () => evaluationBatches(test),
      // Squeeze means for Eq. 7 are recorded on training clips without augmentation.
      squeezeTrain: () => evaluationBatches(train),
      identity: { method: config.method, modality: config.modality, frames: config.frames, size: config.size, limit: config.limit, batchSize: config.batchSize, seed: config.seed, pretrained: config.pretrained },
      label: `nvgesture ${config.method}`,
      describe: describeGreedy,
      progress: hooks.progress,
      log,
      onEpoch: hooks.onEpoch,
    });
    const results: NvGestureResults = reproductionResults(result, { settings: config, backend: hooks.backend, model, dataset: { root: config.data, train: train.size, validation: validation.size, test: test.size, malformedListLines: splits.malformed.length, skippedSamples: [...skipped].map(([sample, problem]) => ({ sample, problem })) } });
    const summary = summaryLine(result) + (skipped.size ? `, ${skipped.size} samples skipped` : '');
    await writeExperimentReport(hooks.dir, `NVGesture — ${config.method}${unimodal ? ` (${config.modality})` : ''}, ${config.frames}×${config.size}², ${hooks.backend}`, results, modalities, summary);
    return results;
  } finally {
    trainer.dispose();
    model.dispose();
  }
}
