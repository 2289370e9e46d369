import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { BalancedTrainer, Greedy, METHODS, ModelView, teacherFromModel, Umt, unmetRequirements, VanillaScheduler, type Balancer } from '@mm/balance';
// The balance package's own test fixtures (tiny seeded models of every fusion kind and batches
// whose label shows in every modality); they are not part of its published API.
import { disposeBatch, tinyBatch, tinyLateModel, tinyMmtmModel, tinySharedHeadModel } from '../../../packages/balance/src/testing/fixtures.js';

export interface LongRunReport {
  method: string;
  model: string;
  steps: number;
  /** Steps per epoch (startEpoch is called at each epoch start, with training and held-out batches). */
  stepsPerEpoch: number;
  /** tf.memory().numTensors after each epoch, the first included. */
  tensorsPerEpoch: number[];
  /** Resident set size after each epoch, MB. */
  rssMbPerEpoch: number[];
  finiteLosses: boolean;
  firstLoss: number;
  lastLoss: number;
  skippedSteps: number;
  warnings: string[];
  seconds: number;
  /** Tensors still allocated once the trainer, the model (and UMT's teachers) were disposed. */
  tensorsLeft: number;
  /** numTensors the same after every epoch, and RSS of the second half no more than `rssSlackMb` above the first half's. */
  tensorsConstant: boolean;
  rssBounded: boolean;
}

/** A balancer to run, and what to free after it (UMT's teachers are the caller's). */
export interface LongRunMethod {
  name: string;
  create: (stepsPerEpoch: number) => { balancer: Balancer; release?: () => void };
}

/** The scheduler variants and every method of the registry, UMT with untrained uni-modal teachers. */
export function longRunMethods(): LongRunMethod[] {
  return [
    ...METHODS.map((entry) => ({
      name: entry.name,
      create: (stepsPerEpoch: number) => {
        if (entry.name !== 'umt') return { balancer: entry.create({ stepsPerEpoch, numModalities: 2, seed: 5 }) };
        const models = [0, 1].map(teacherModel);
        return { balancer: new Umt({ teachers: models.map((m, k) => teacherFromModel(m, `teacher${k}_pool`)) }), release: () => models.forEach((m) => m.dispose()) };
      },
    })),
    // The vanilla scheduler inside the paper's balancer: regular steps that still measure d_speed.
    { name: 'greedy (vanilla scheduler)', create: () => ({ balancer: new Greedy({ scheduler: new VanillaScheduler() }) }) },
  ];
}

/** A uni-modal teacher whose features have the students' width (4), as UMT needs; its weights stay fixed. */
function teacherModel(k: number): tfl.LayersModel {
  const x = tfl.input({ shape: [6, 6, k + 1] });
  const conv = tfl.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same', activation: 'relu', kernelInitializer: tfl.initializers.glorotUniform({ seed: 40 + k }) }).apply(x) as tfl.SymbolicTensor;
  const pool = tfl.layers.globalAveragePooling2d({ name: `teacher${k}_pool` }).apply(conv) as tfl.SymbolicTensor;
  return tfl.model({ inputs: x, outputs: tfl.layers.dense({ units: 3 }).apply(pool) as tfl.SymbolicTensor });
}

const MMTM: [string, () => tfl.LayersModel] = ['MMTM, one head per modality', () => tinyMmtmModel(2)];
const LATE: [string, () => tfl.LayersModel][] = [
  ['late fusion (concat)', () => tinyLateModel(2)],
  ['shared head', () => tinySharedHeadModel(2)],
];

/** The model each method is defined for: MMTM for the paper's (fusion layers), else the first late-fusion model it can train. */
function modelFor(balancer: Balancer): [string, tfl.LayersModel] {
  const candidates = balancer.requirements.capabilities?.includes('fusion-layers') || balancer instanceof Greedy ? [MMTM] : [...LATE, MMTM];
  for (const [name, make] of candidates) {
    const model = make();
    if (unmetRequirements(balancer.requirements, new ModelView(model)).length === 0) return [name, model];
    model.dispose();
  }
  throw new Error(`no tiny model fits ${balancer.name}`);
}

const mb = (bytes: number) => Math.round((bytes / 2 ** 20) * 10) / 10;

/** `steps` training steps of one balancer, with tensor counts and memory after every epoch. */
export async function longRun(method: LongRunMethod, o: { steps: number; stepsPerEpoch: number; rssSlackMb: number }): Promise<LongRunReport> {
  const started = Date.now();
  const start = tf.memory().numTensors;
  const { balancer, release } = method.create(o.stepsPerEpoch);
  const beforeModel = tf.memory().numTensors;
  const [modelName, model] = modelFor(balancer);
  // Counted with the model still alive: tfjs-layers' model.dispose() keeps a layer the model
  // applies twice (the shared head), which is not the trainer's to free.
  const modelTensors = tf.memory().numTensors - beforeModel;
  const warnings: string[] = [];
  const trainer = new BalancedTrainer({ model, optimizer: tf.train.momentum(0.02, 0.9), balancer, seed: 3, warn: (m) => warnings.push(m) });
  const report: LongRunReport = {
    method: method.name,
    model: modelName,
    steps: o.steps,
    stepsPerEpoch: o.stepsPerEpoch,
    tensorsPerEpoch: [],
    rssMbPerEpoch: [],
    finiteLosses: true,
    firstLoss: Number.NaN,
    lastLoss: Number.NaN,
    skippedSteps: 0,
    warnings,
    seconds: 0,
    tensorsConstant: false,
    rssBounded: false,
    tensorsLeft: Number.NaN,
  };
  const source = (first: number, count: number) => () => Array.from({ length: count }, (_, i) => tinyBatch(first + i));
  try {
    for (let step = 0; step < o.steps; step++) {
      if (step % o.stepsPerEpoch === 0) await trainer.startEpoch({ epoch: step / o.stepsPerEpoch, stepsPerEpoch: o.stepsPerEpoch, train: source(1000, 3), validation: source(2000, 2) });
      // 64 distinct batches, cycled, so the data is the same every 64 steps.
      const batch = tinyBatch(step % 64);
      try {
        const { loss } = trainer.step(batch);
        if (step === 0) report.firstLoss = loss;
        report.lastLoss = loss;
        if (!Number.isFinite(loss)) report.finiteLosses = false;
      } finally {
        disposeBatch(batch);
      }
      if ((step + 1) % o.stepsPerEpoch === 0) {
        report.tensorsPerEpoch.push(tf.memory().numTensors);
        report.rssMbPerEpoch.push(mb(process.memoryUsage().rss));
      }
    }
    report.skippedSteps = trainer.skippedSteps;
  } finally {
    trainer.dispose();
    release?.();
    report.tensorsLeft = tf.memory().numTensors - start - modelTensors;
    model.dispose();
  }
  const half = Math.floor(report.rssMbPerEpoch.length / 2);
  report.tensorsConstant = report.tensorsPerEpoch.every((n) => n === report.tensorsPerEpoch[0]);
  report.rssBounded = Math.max(...report.rssMbPerEpoch.slice(half)) <= Math.max(...report.rssMbPerEpoch.slice(0, half)) + o.rssSlackMb;
  report.seconds = (Date.now() - started) / 1000;
  return report;
}
