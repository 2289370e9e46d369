import { buildColoredGrayMnist, writeSampleGrid, type CgMnistModality, type ColoredGrayMnist } from '@mm/datasets/colored-mnist';
import { htmlReport, stat, writeFigures, writeFileAtomically, type ProgressEvent, type StepLog } from '@mm/example-kit';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { ColoredMnistConfig, ExperimentSettings, Method } from './config.js';
import { accuracyPlot, dSpeedPlot, lossPlot, sweepHistograms, tablePlot } from './figures.js';
import { formatTable, summarize, type MethodSummary } from './table.js';
import { paperRunSpec } from './paper.js';
import { trainOne, withoutSteps, type RunResult, type RunSummary } from './train-one.js';

export interface RunHooks {
  /** The run's folder (config.json is already there; results, report and checkpoints go here). */
  dir: string;
  /** The tfjs backend in use, recorded in the results. */
  backend: string;
  progress?: (event: ProgressEvent) => void;
  /** One line per finished (method, seed), and what the run is doing. */
  log?: (line: string) => void;
}

export interface TableResults {
  mode: 'table';
  preset: ColoredMnistConfig['preset'];
  methods: Record<string, { runs: number; seeds: number[]; testAccuracy: { mean: number; std: number }; headAccuracy: { mean: number; std: number }[]; dUtil?: { mean: number; std: number }; dSpeed?: { mean: number; std: number }; paperTestAccuracy?: { mean: number; std: number } }>;
  runs: Omit<RunResult, 'steps'>[];
  settings: ColoredMnistConfig;
  backend: string;
  wallSeconds: number;
  /** The printed table. */
  table: string;
}

export interface SweepResults {
  mode: 'sweep';
  pairs: Record<string, { dUtil: number[]; dSpeed: number[]; runs: { learningRate: number; seed: number; testAccuracy: number; dUtil?: number; dSpeed?: number | null }[] }>;
  settings: ColoredMnistConfig;
  backend: string;
  wallSeconds: number;
  table: string;
}

const PAIRS: [CgMnistModality, CgMnistModality][] = [
  ['colored', 'gray'],
  ['gray', 'gray'],
  ['colored', 'colored'],
];

/** Log-uniform learning rates in [1e-3, 1e-1], fixed by the run index. */
function sweepLearningRate(i: number, n: number): number {
  return 10 ** (-3 + (2 * (i + 0.5)) / n);
}

const meanStd = (s: { mean: number; std: number }) => ({ mean: s.mean, std: s.std });

function tableResults(summary: Record<string, MethodSummary>): TableResults['methods'] {
  return Object.fromEntries(
    Object.entries(summary).map(([m, s]) => [
      m,
      {
        runs: s.runs,
        seeds: s.seeds,
        testAccuracy: meanStd(s.testAccuracy),
        headAccuracy: s.headAccuracy.map(meanStd),
        ...(s.dUtil ? { dUtil: meanStd(s.dUtil) } : {}),
        ...(s.dSpeed ? { dSpeed: meanStd(s.dSpeed) } : {}),
        ...(s.paper ? { paperTestAccuracy: { mean: s.paper.mean / 100, std: s.paper.std / 100 } } : {}),
      },
    ]),
  );
}

/** Table 1's runs in the order of the plan. */
export function tableRuns(config: Pick<ExperimentSettings, 'plan'>): { method: Method; seed: number }[] {
  return config.plan.flatMap(({ method, seeds }) => seeds.map((seed) => ({ method, seed })));
}

/** One model of the §6.2 sweep: a vanilla MMTM net on a modality pair with a log-uniform learning rate. */
export interface SweepRun {
  pair: [CgMnistModality, CgMnistModality];
  /** 0-based within its pair. */
  index: number;
  learningRate: number;
  seed: number;
}

/** The §6.2 sweep's runs: `sweepRuns` learning rates for each modality pair. */
export function sweepRuns(config: Pick<ColoredMnistConfig, 'sweepRuns'>): SweepRun[] {
  return PAIRS.flatMap((pair) => Array.from({ length: config.sweepRuns }, (_, index) => ({ pair, index, learningRate: sweepLearningRate(index, config.sweepRuns), seed: index + 1 })));
}

const pairKey = (pair: readonly string[]) => `(${pair[0]}, ${pair[1]})`;

/** What the results writers are told besides the runs. */
export interface WriteOptions {
  dir: string;
  backend: string;
  wallSeconds: number;
}

/** samples-train.png and samples-test.png (once per folder). */
export async function writeSampleGrids(data: ColoredGrayMnist, dir: string): Promise<void> {
  if (existsSync(join(dir, 'samples-test.png'))) return;
  await writeSampleGrid(data.train, join(dir, 'samples-train.png'));
  await writeSampleGrid(data.test, join(dir, 'samples-test.png'));
}

/** The §6.2 results (results.json, the histograms and report.html) from its runs' results. */
export async function writeSweepResults(config: ColoredMnistConfig, runs: { run: SweepRun; result: Pick<RunResult, 'testAccuracy' | 'dUtil' | 'dSpeed'> }[], o: WriteOptions): Promise<SweepResults> {
  const pairs: SweepResults['pairs'] = {};
  for (const { run, result: r } of runs) {
    const entry = (pairs[pairKey(run.pair)] ??= { dUtil: [], dSpeed: [], runs: [] });
    if (r.dUtil !== undefined) entry.dUtil.push(r.dUtil);
    if (r.dSpeed != null) entry.dSpeed.push(r.dSpeed);
    entry.runs.push({ learningRate: run.learningRate, seed: run.seed, testAccuracy: r.testAccuracy, dUtil: r.dUtil, dSpeed: r.dSpeed });
  }
  const figures = await writeFigures(o.dir, sweepHistograms(pairs));
  const lines = Object.entries(pairs).map(([pair, v]) => `${pair.padEnd(20)} E[d_util] ${stat(v.dUtil).mean.toFixed(3)} ± ${stat(v.dUtil).std.toFixed(3)}   E[d_speed] ${stat(v.dSpeed).mean.toFixed(3)}   (${v.dUtil.length} models)`);
  const table = ['pair                 greediness', ...lines].join('\n');
  const results: SweepResults = { mode: 'sweep', pairs, settings: config, backend: o.backend, wallSeconds: o.wallSeconds, table };
  writeFileAtomically(join(o.dir, 'results.json'), JSON.stringify(results, null, 2));
  writeFileAtomically(join(o.dir, 'report.html'), htmlReport('Greedy learner sweep (§6.2)', table, figures, ['Paper: |E[d_util]| ≈ 0.3 for (colored, gray), ≈ 0 for identical modalities.']));
  return results;
}

/**
 * Table 1 (results.json, the figures and report.html) from its runs' results. The loss and
 * d_speed figures need the per-step log of the first run of each method: `steps` gives it.
 */
export async function writeTableResults(config: ColoredMnistConfig, results: RunSummary[], o: WriteOptions & { steps: (run: RunSummary) => StepLog[] }): Promise<TableResults> {
  const summary = summarize(results);
  const table = formatTable(summary);
  const firstOf = (m: string) => results.find((r) => r.method === m);
  const figures: Record<string, string> = { 'table1-comparison': tablePlot(summary) };
  for (const m of ['guided', 'random', 'vanilla'] as const) {
    const r = firstOf(m);
    if (r) figures[`d-speed-${m}`] = dSpeedPlot({ ...r, steps: o.steps(r) }, config.alpha);
  }
  const curveRuns = config.plan.map((p) => firstOf(p.method)).filter((r): r is RunSummary => r !== undefined);
  figures['validation-accuracy'] = accuracyPlot(curveRuns);
  figures['training-loss'] = lossPlot(curveRuns.map((r) => ({ ...r, steps: o.steps(r) })));
  const figureNames = await writeFigures(o.dir, figures);
  const out: TableResults = {
    mode: 'table',
    preset: config.preset,
    methods: tableResults(summary),
    runs: results.map(withoutSteps),
    settings: config,
    backend: o.backend,
    wallSeconds: o.wallSeconds,
    table,
  };
  writeFileAtomically(join(o.dir, 'results.json'), JSON.stringify(out, null, 2));
  const notes = [
    `Backend ${o.backend}; ${config.trainSize} training samples, batch ${config.batchSize}, ${config.epochs} epoch(s) max, widths ${config.widths.join('/')}, lr ${config.learningRate}, α ${config.alpha}, Q ${config.windowSize}; wall time ${o.wallSeconds.toFixed(0)} s.`,
    'Test accuracy of the best-validation checkpoint on the low color–label correlation split; d_util from that checkpoint; d_speed at its step. Paper figures: Table 1 (full scale).',
  ];
  writeFileAtomically(join(o.dir, 'report.html'), htmlReport('Colored-and-gray-MNIST: Table 1 reproduction', table, figureNames, notes));
  return out;
}

/** The run's folder under `<dir>/runs` in a local run (named for people; a sweep's runs directory uses the runner's folders). */
export const localRunFolder = {
  table: (method: string, seed: number) => `${method}-seed${seed}`,
  sweep: (run: SweepRun) => `sweep-${run.pair.join('-')}-${run.index + 1}`,
};

/**
 * The Colored-and-gray-MNIST reproduction: Table 1 (every planned method and seed) or the §6.2
 * sweep. Each (method, seed) checkpoints in `<dir>/runs/…`, so calling this again on the same
 * folder continues where it stopped. Writes results.json and report.html, returns the results.
 */
export async function run(config: ColoredMnistConfig, hooks: RunHooks): Promise<TableResults | SweepResults> {
  const { dir } = hooks;
  const log = hooks.log ?? (() => {});
  const started = Date.now();
  log(`building Colored-and-gray-MNIST (${config.trainSize} training samples, σ² = ${config.variance}, seed ${config.dataSeed})…`);
  const data: ColoredGrayMnist = buildColoredGrayMnist({ trainSize: config.trainSize, testSize: config.testSize, validationFraction: config.validationFraction, variance: config.variance, seed: config.dataSeed, testColoring: config.testColoring });
  log(`  train ${data.train.size}, validation ${data.validation.size}, test ${data.test.size} (validation and test: color independent of the label)`);
  await writeSampleGrids(data, dir);
  const runOne = async (method: Method, seed: number, runDir: string, settings: ExperimentSettings) => {
    const r = await trainOne(paperRunSpec(method, seed, settings), { data, settings, dir: runDir, progress: hooks.progress });
    log(`  ${runLine(r)}`);
    return r;
  };
  const written = { dir, backend: hooks.backend };

  if (config.mode === 'sweep') {
    const runs = [];
    for (const run of sweepRuns(config)) {
      runs.push({ run, result: await runOne('vanilla', run.seed, join(dir, 'runs', localRunFolder.sweep(run)), { ...config, pair: run.pair, learningRate: run.learningRate }) });
    }
    return writeSweepResults(config, runs, { ...written, wallSeconds: (Date.now() - started) / 1000 });
  }

  const results: RunResult[] = [];
  for (const { method, seed } of tableRuns(config)) results.push(await runOne(method, seed, join(dir, 'runs', localRunFolder.table(method, seed)), config));
  const steps = new Map(results.map((r) => [r as RunSummary, r.steps]));
  return writeTableResults(config, results, { ...written, wallSeconds: (Date.now() - started) / 1000, steps: (r) => steps.get(r) ?? [] });
}

/** 'guided seed 1: test 81.20%, d_util 0.123, d_speed -0.050 (41 s)' */
export function runLine(r: Pick<RunResult, 'method' | 'seed' | 'testAccuracy' | 'dUtil' | 'dSpeed' | 'seconds'>): string {
  return `${r.method} seed ${r.seed}: test ${(100 * r.testAccuracy).toFixed(2)}%${r.dUtil !== undefined ? `, d_util ${r.dUtil.toFixed(3)}` : ''}${r.dSpeed != null ? `, d_speed ${r.dSpeed.toFixed(3)}` : ''} (${r.seconds.toFixed(0)} s)`;
}
