import { buildColoredGrayMnist, writeSampleGrid, type CgMnistModality, type ColoredGrayMnist } from '@mm/datasets/colored-mnist';
import { htmlReport, stat, writeFigures, writeFileAtomically, type ProgressEvent } from '@mm/example-kit';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { ColoredMnistConfig, ExperimentSettings, Method } from './config.js';
import { accuracyPlot, dSpeedPlot, lossPlot, sweepHistograms, tablePlot } from './figures.js';
import { formatTable, summarize, type MethodSummary } from './table.js';
import { paperRunSpec } from './paper.js';
import { trainOne, type RunResult } from './train-one.js';

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
  if (!existsSync(join(dir, 'samples-test.png'))) {
    await writeSampleGrid(data.train, join(dir, 'samples-train.png'));
    await writeSampleGrid(data.test, join(dir, 'samples-test.png'));
  }
  const runOne = async (method: Method, seed: number, runDir: string, settings: ExperimentSettings) => {
    const r = await trainOne(paperRunSpec(method, seed, settings), { data, settings, dir: runDir, progress: hooks.progress });
    log(`  ${method} seed ${seed}: test ${(100 * r.testAccuracy).toFixed(2)}%${r.dUtil !== undefined ? `, d_util ${r.dUtil.toFixed(3)}` : ''}${r.dSpeed != null ? `, d_speed ${r.dSpeed.toFixed(3)}` : ''} (${r.seconds.toFixed(0)} s)`);
    return r;
  };

  if (config.mode === 'sweep') {
    const pairs: SweepResults['pairs'] = {};
    for (const pair of PAIRS) {
      const key = `(${pair[0]}, ${pair[1]})`;
      pairs[key] = { dUtil: [], dSpeed: [], runs: [] };
      for (let i = 0; i < config.sweepRuns; i++) {
        const learningRate = sweepLearningRate(i, config.sweepRuns);
        const r = await runOne('vanilla', i + 1, join(dir, 'runs', `sweep-${pair.join('-')}-${i + 1}`), { ...config, pair, learningRate });
        if (r.dUtil !== undefined) pairs[key].dUtil.push(r.dUtil);
        if (r.dSpeed != null) pairs[key].dSpeed.push(r.dSpeed);
        pairs[key].runs.push({ learningRate, seed: i + 1, testAccuracy: r.testAccuracy, dUtil: r.dUtil, dSpeed: r.dSpeed });
      }
    }
    const figures = await writeFigures(dir, sweepHistograms(pairs));
    const lines = Object.entries(pairs).map(([pair, v]) => `${pair.padEnd(20)} E[d_util] ${stat(v.dUtil).mean.toFixed(3)} ± ${stat(v.dUtil).std.toFixed(3)}   E[d_speed] ${stat(v.dSpeed).mean.toFixed(3)}   (${v.dUtil.length} models)`);
    const table = ['pair                 greediness', ...lines].join('\n');
    const results: SweepResults = { mode: 'sweep', pairs, settings: config, backend: hooks.backend, wallSeconds: (Date.now() - started) / 1000, table };
    writeFileAtomically(join(dir, 'results.json'), JSON.stringify(results, null, 2));
    writeFileAtomically(join(dir, 'report.html'), htmlReport('Greedy learner sweep (§6.2)', table, figures, ['Paper: |E[d_util]| ≈ 0.3 for (colored, gray), ≈ 0 for identical modalities.']));
    return results;
  }

  const results: RunResult[] = [];
  for (const { method, seeds } of config.plan) {
    for (const seed of seeds) results.push(await runOne(method, seed, join(dir, 'runs', `${method}-seed${seed}`), config));
  }
  const summary = summarize(results);
  const table = formatTable(summary);
  const wallSeconds = (Date.now() - started) / 1000;
  const firstOf = (m: string) => results.find((r) => r.method === m);
  const figures: Record<string, string> = { 'table1-comparison': tablePlot(summary) };
  for (const m of ['guided', 'random', 'vanilla'] as const) {
    const r = firstOf(m);
    if (r) figures[`d-speed-${m}`] = dSpeedPlot(r, config.alpha);
  }
  const curveRuns = config.plan.map((p) => firstOf(p.method)).filter((r): r is RunResult => r !== undefined);
  figures['validation-accuracy'] = accuracyPlot(curveRuns);
  figures['training-loss'] = lossPlot(curveRuns);
  const figureNames = await writeFigures(dir, figures);
  const out: TableResults = {
    mode: 'table',
    preset: config.preset,
    methods: tableResults(summary),
    runs: results.map(({ steps: _steps, ...r }) => r),
    settings: config,
    backend: hooks.backend,
    wallSeconds,
    table,
  };
  writeFileAtomically(join(dir, 'results.json'), JSON.stringify(out, null, 2));
  const notes = [
    `Backend ${hooks.backend}; ${config.trainSize} training samples, batch ${config.batchSize}, ${config.epochs} epoch(s) max, widths ${config.widths.join('/')}, lr ${config.learningRate}, α ${config.alpha}, Q ${config.windowSize}; wall time ${wallSeconds.toFixed(0)} s.`,
    'Test accuracy of the best-validation checkpoint on the low color–label correlation split; d_util from that checkpoint; d_speed at its step. Paper figures: Table 1 (full scale).',
  ];
  writeFileAtomically(join(dir, 'report.html'), htmlReport('Colored-and-gray-MNIST: Table 1 reproduction', table, figureNames, notes));
  return out;
}
