import type { BalancedTrainer, Evaluation } from '@mm/balance';
import type { MultiModalBatch } from '@mm/datasets';
import type { BatchSource, UtilizationReport } from '@mm/metrics';
import { initBackend } from '@mm/backend';
import type * as tfl from '@tensorflow/tfjs-layers';
import { join } from 'node:path';
import { createProgressPrinter } from './progress.js';
import { openRunDir } from './run-dir.js';
import { evaluateRun } from './evaluate-run.js';
import { writeFileAtomically } from './files.js';
import type { ProgressEvent } from './progress.js';
import { htmlReport, writeFigures } from './report/figures.js';
import { linePlot, type Series } from './report/svg-plot.js';
import { trainEpochs, type BestEpoch, type EpochLog, type EpochSchedule, type StepLog } from './train-loop.js';

export interface ExperimentOptions {
  trainer: BalancedTrainer;
  /** The run's folder (checkpoint, results, report). */
  dir: string;
  epochs: number;
  stepsPerEpoch: number;
  trainBatches: (epoch: number) => Iterable<MultiModalBatch> | AsyncIterable<MultiModalBatch>;
  validation: () => BatchSource;
  test: () => BatchSource;
  /** Training batches without augmentation, for the recording pass of the utilization rate (MMTM models). */
  squeezeTrain?: () => BatchSource;
  /** Batches for methods that look at data between epochs. */
  epochData?: { train?: () => BatchSource; validation?: () => BatchSource };
  schedule?: EpochSchedule;
  identity: unknown;
  label: string;
  describe?: (metrics: Record<string, number | null>) => string;
  progress?: (event: ProgressEvent) => void;
  /** One line per finished epoch. */
  log?: (line: string) => void;
  onEpoch?: (log: EpochLog) => void;
}

/** What a reproduction's `run(config, hooks)` is told besides its config. */
export interface ExperimentHooks {
  /** The run's folder (config.json is there; checkpoint, results.json and report.html go here). */
  dir: string;
  /** The tfjs backend in use, recorded in the results. */
  backend: string;
  log?: (line: string) => void;
  progress?: (event: ProgressEvent) => void;
  /** Called after each epoch (tests use it to simulate a crash). */
  onEpoch?: (log: EpochLog) => void;
}

/** A single-run reproduction's results.json. */
export interface ReproductionResults<C, D> extends Omit<ExperimentResult, 'steps'> {
  settings: C;
  backend: string;
  dataset: D;
  model: { name: string; parameters: number; inputs: number };
  /** Re-balancing steps per accelerated modality over the whole run. */
  rebalanceSteps: number[];
}

/** The results of a finished experiment in a reproduction's results.json shape. */
export function reproductionResults<C, D>(result: ExperimentResult, o: { settings: C; backend: string; dataset: D; model: tfl.LayersModel }): ReproductionResults<C, D> {
  const { steps, ...rest } = result;
  const modalities = o.model.inputs.length;
  return {
    settings: o.settings,
    backend: o.backend,
    dataset: o.dataset,
    model: { name: o.model.name, parameters: o.model.countParams(), inputs: modalities },
    rebalanceSteps: Array.from({ length: modalities }, (_, k) => steps.filter((s) => s.metrics.rebalance === k).length),
    ...rest,
  };
}

export interface ExperimentResult {
  epochs: EpochLog[];
  steps: StepLog[];
  best: BestEpoch;
  /** The best-validation weights on the test split. */
  test: Evaluation;
  utilization: UtilizationReport | null;
  utilizationProblem: string | null;
  seconds: number;
}

/**
 * One training run as the reproductions run it: the epoch loop (checkpointed, resumable), then
 * the best-validation weights on the test split and, for MMTM models, the conditional
 * utilization rate.
 */
export async function runExperiment(o: ExperimentOptions): Promise<ExperimentResult> {
  const loop = await trainEpochs({
    ...o,
    onEpoch: (epoch) => {
      o.log?.(`epoch ${epoch.epoch + 1}: mean loss ${epoch.meanLoss.toFixed(4)}, validation accuracy ${(100 * epoch.validationAccuracy).toFixed(2)}%${epoch.validationModalityAccuracy ? ` (per modality ${epoch.validationModalityAccuracy.map((a) => `${(100 * a).toFixed(1)}%`).join(', ')})` : ''}, ${epoch.seconds.toFixed(1)} s`);
      o.onEpoch?.(epoch);
    },
  });
  const started = Date.now();
  o.progress?.({ label: o.label, epoch: o.epochs, epochs: o.epochs, phase: 'evaluate', step: 0, stepsPerEpoch: o.stepsPerEpoch, loss: Number.NaN, detail: '' });
  const evaluation = await evaluateRun(o.trainer, { test: o.test, squeezeTrain: o.squeezeTrain });
  return { epochs: loop.epochs, steps: loop.steps, best: loop.best, ...evaluation, seconds: loop.seconds + (Date.now() - started) / 1000 };
}

/** 'test accuracy 81.20% (best validation epoch 7), d_util 0.1234' */
export function summaryLine(result: Pick<ExperimentResult, 'test' | 'best' | 'utilization' | 'utilizationProblem'>): string {
  const utilization = result.utilization ? `, d_util ${result.utilization.dUtil.toFixed(4)}` : result.utilizationProblem ? ` (no utilization rate: ${result.utilizationProblem})` : '';
  return `test accuracy ${(100 * result.test.accuracy).toFixed(2)}% (best validation epoch ${result.best.epoch + 1})${utilization}`;
}

/** The CLI of a single-run reproduction: run folder, backend, progress, the run, then its summary and files. */
export async function experimentMain<C, R extends Pick<ExperimentResult, 'test' | 'best' | 'utilization' | 'utilizationProblem'>>(o: {
  args: { out?: string; resume?: string; backend?: 'node-gpu' | 'node' | 'wasm' | 'cpu'; quiet: boolean };
  name: string;
  config: () => C;
  run: (config: C, hooks: { dir: string; backend: string; log: (line: string) => void; progress: (event: ProgressEvent) => void }) => Promise<R>;
}): Promise<R> {
  const { dir, config, resumed } = openRunDir({ out: o.args.out, resume: o.args.resume, name: o.name, config: o.config });
  if (resumed) console.error(`resuming ${dir}`);
  const backend = await initBackend({ backend: o.args.backend });
  const progress = createProgressPrinter({ quiet: o.args.quiet });
  const log = (line: string) => {
    progress.end();
    console.error(line);
  };
  const results = await o.run(config, { dir, backend, log, progress: progress.update });
  progress.end();
  console.log(`${summaryLine(results)}\nresults: ${join(dir, 'results.json')}\nreport:  ${join(dir, 'report.html')}`);
  return results;
}

const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b'];

/** Per-epoch curves: training loss, validation accuracy (prediction and each modality), d_speed when measured. */
export function epochFigures(epochs: EpochLog[], modalities: readonly string[]): Record<string, string> {
  const x = (e: EpochLog) => e.epoch + 1;
  const figures: Record<string, string> = {
    'training-loss': linePlot({ title: 'Training loss (mean over the epoch)', xLabel: 'epoch', yLabel: 'loss', integerX: true, series: [{ name: 'loss', color: '#222', markers: true, points: epochs.map((e) => [x(e), e.meanLoss]) }] }),
  };
  const accuracy: Series[] = [{ name: 'prediction', color: '#222', markers: true, points: epochs.map((e) => [x(e), 100 * e.validationAccuracy]) }];
  modalities.forEach((name, k) => {
    if (epochs.every((e) => e.validationModalityAccuracy && e.validationModalityAccuracy.length > k)) {
      accuracy.push({ name, color: PALETTE[k % PALETTE.length], dashed: true, points: epochs.map((e) => [x(e), 100 * e.validationModalityAccuracy![k]]) });
    }
  });
  figures['validation-accuracy'] = linePlot({ title: 'Validation accuracy per epoch', xLabel: 'epoch', yLabel: 'accuracy %', integerX: true, yRange: [0, 100], series: accuracy });
  const dSpeed = epochs.filter((e) => typeof e.metrics.dSpeed === 'number');
  if (dSpeed.length > 0) {
    figures['d-speed'] = linePlot({ title: 'd_speed at the end of each epoch', xLabel: 'epoch', yLabel: 'd_speed', integerX: true, series: [{ name: 'd_speed', color: '#222', markers: true, points: dSpeed.map((e) => [x(e), e.metrics.dSpeed as number]) }] });
  }
  return figures;
}

/** results.json (the given object) and report.html with the epoch curves beside it. */
export async function writeExperimentReport(dir: string, title: string, results: { epochs: EpochLog[] }, modalities: readonly string[], summary: string, notes: string[] = []): Promise<void> {
  writeFileAtomically(join(dir, 'results.json'), `${JSON.stringify(results, null, 2)}\n`);
  const figures = await writeFigures(dir, epochFigures(results.epochs, modalities));
  writeFileAtomically(join(dir, 'report.html'), htmlReport(title, summary, figures, notes));
}
