import { buildColoredGrayMnist } from '@mm/datasets/colored-mnist';
import { barChart, formatTable, htmlReport, percent, signed, stat, writeFigures, writeFileAtomically, type ProgressEvent, type Stat } from '@mm/example-kit';
import { join } from 'node:path';
import { BENCHMARK_METHODS, benchmarkRunSpec, runFolder, withPrerequisites, type BenchmarkMethod } from './balancers.js';
import type { ExperimentSettings } from './config.js';
import { trainOne, withoutSteps, type RunResult, type RunSummary } from './train-one.js';

export interface BalancerBenchmarkConfig extends ExperimentSettings {
  methods: BenchmarkMethod[];
  seeds: number[];
}

export interface MethodRow {
  fusion: string;
  runs: number;
  seeds: number[];
  testAccuracy: { mean: number; std: number };
  /** Accuracy of the colored (m0) and gray (m1) logits: heads, head slices or auxiliary heads. */
  modalityAccuracy: { mean: number; std: number }[];
  dUtil?: { mean: number; std: number };
  secondsPerStep: number;
  /** Seconds per step ÷ the concat net's vanilla step in the same run (or the MMTM net's for its own methods). */
  costRatio: number | null;
}

export interface BalancerBenchmarkResults {
  methods: Record<string, MethodRow>;
  runs: Omit<RunResult, 'steps' | 'epochs'>[];
  settings: BalancerBenchmarkConfig;
  backend: string;
  wallSeconds: number;
  table: string;
}

const meanStd = (s: Stat) => ({ mean: s.mean, std: s.std });

/** The benchmark's runs in order (UMT after the uni-modal runs that teach it). */
export function balancerRuns(config: Pick<BalancerBenchmarkConfig, 'methods' | 'seeds'>): { method: BenchmarkMethod; seed: number }[] {
  return withPrerequisites(config.methods).flatMap((method) => config.seeds.map((seed) => ({ method, seed })));
}

/**
 * Every chosen method over every seed on Colored-and-gray-MNIST at the main job's scale; each
 * run checkpoints in `<dir>/runs/<method>-seed<k>`, so calling this again continues. Writes
 * results.json and report.html.
 */
export async function runBalancerBenchmark(config: BalancerBenchmarkConfig, hooks: { dir: string; backend: string; progress?: (e: ProgressEvent) => void; log?: (line: string) => void }): Promise<BalancerBenchmarkResults> {
  const log = hooks.log ?? (() => {});
  const started = Date.now();
  const data = buildColoredGrayMnist({ trainSize: config.trainSize, testSize: config.testSize, validationFraction: config.validationFraction, variance: config.variance, seed: config.dataSeed, testColoring: config.testColoring });
  const runDir = (method: string, seed: number) => join(hooks.dir, 'runs', runFolder(method, seed));
  const results: RunResult[] = [];
  for (const { method, seed } of balancerRuns(config)) {
    const r = await trainOne(benchmarkRunSpec(method, seed, { settings: config, runDir }), { data, settings: config, dir: runDir(method, seed), progress: hooks.progress });
    log(`  ${balancerRunLine(r)}`);
    results.push(r);
  }
  return writeBalancerResults(config, results, { dir: hooks.dir, backend: hooks.backend, wallSeconds: (Date.now() - started) / 1000 });
}

/** 'ogm-ge seed 1: test 60.12%, 35 ms/step (12 s)' */
export function balancerRunLine(r: Pick<RunResult, 'method' | 'seed' | 'testAccuracy' | 'secondsPerStep' | 'seconds'>): string {
  return `${r.method} seed ${r.seed}: test ${(100 * r.testAccuracy).toFixed(2)}%, ${(1000 * r.secondsPerStep).toFixed(0)} ms/step (${r.seconds.toFixed(0)} s)`;
}

/** The benchmark's table, results.json and report.html from its runs' results (in {@link balancerRuns} order). */
export async function writeBalancerResults(config: BalancerBenchmarkConfig, results: RunSummary[], o: { dir: string; backend: string; wallSeconds: number }): Promise<BalancerBenchmarkResults> {
  const by = (m: string) => results.filter((r) => r.method === m);
  const baseline = (fusion: string) => {
    const runs = by(fusion === 'mmtm' ? 'vanilla' : 'vanilla-concat');
    return runs.length ? stat(runs.map((r) => r.secondsPerStep)).mean : null;
  };
  const methods: Record<string, MethodRow> = {};
  for (const method of withPrerequisites(config.methods)) {
    const runs = by(method);
    const fusion = BENCHMARK_METHODS[method].fusion;
    const perStep = stat(runs.map((r) => r.secondsPerStep)).mean;
    const base = fusion === 'unimodal' ? null : baseline(fusion === 'shared-head' ? 'concat' : fusion);
    const dUtils = runs.flatMap((r) => (r.dUtil === undefined ? [] : [r.dUtil]));
    methods[method] = {
      fusion,
      runs: runs.length,
      seeds: runs.map((r) => r.seed),
      testAccuracy: meanStd(stat(runs.map((r) => r.testAccuracy))),
      modalityAccuracy: runs[0].testHeadAccuracy.map((_, k) => meanStd(stat(runs.map((r) => r.testHeadAccuracy[k])))),
      ...(dUtils.length ? { dUtil: meanStd(stat(dUtils)) } : {}),
      secondsPerStep: perStep,
      costRatio: base ? perStep / base : null,
    };
  }
  const rows = [['method', 'fusion', 'runs', 'test acc. %', 'colored %', 'gray %', 'd_util', 'cost/step']];
  for (const [method, row] of Object.entries(methods)) {
    const s = (x: { mean: number; std: number } | undefined) => (x ? { ...x, n: row.runs } : undefined);
    rows.push([
      method,
      row.fusion,
      String(row.runs),
      percent(s(row.testAccuracy)),
      percent(s(row.modalityAccuracy[0])),
      row.modalityAccuracy.length > 1 ? percent(s(row.modalityAccuracy[1])) : '—',
      signed(s(row.dUtil)),
      row.costRatio === null ? '—' : `${row.costRatio.toFixed(2)}×`,
    ]);
  }
  const table = formatTable(rows);
  const out: BalancerBenchmarkResults = {
    methods,
    runs: results.map((r) => {
      const { epochs: _epochs, ...summary } = withoutSteps(r);
      return summary;
    }),
    settings: config,
    backend: o.backend,
    wallSeconds: o.wallSeconds,
    table,
  };
  writeFileAtomically(join(o.dir, 'results.json'), JSON.stringify(out, null, 2));
  const chart = barChart({
    title: 'Balancers on Colored-and-gray-MNIST: test accuracy (color independent of the label)',
    yLabel: 'accuracy %',
    yRange: [0, 100],
    groups: Object.entries(methods).map(([method, row]) => ({
      label: method,
      bars: [
        { name: 'prediction', value: 100 * row.testAccuracy.mean, error: 100 * row.testAccuracy.std, color: '#1f77b4' },
        // Uni-modal runs have no second modality: their bar would repeat the prediction under another name.
        { name: 'gray logits', value: row.modalityAccuracy.length > 1 ? 100 * row.modalityAccuracy[1].mean : Number.NaN, color: '#999999' },
      ],
    })),
  });
  const figures = await writeFigures(o.dir, { 'balancers-test-accuracy': chart });
  const notes = [
    `Backend ${o.backend}; ${config.trainSize} training samples, batch ${config.batchSize}, ${config.epochs} epochs, widths ${config.widths.join('/')}, SGD lr ${config.learningRate} momentum ${config.momentum}; seeds ${config.seeds.join(', ')}; wall time ${out.wallSeconds.toFixed(0)} s.`,
    'Test accuracy of the best-validation checkpoint on the split where color is independent of the label. colored % / gray %: the per-modality logits (MMTM and shared heads; head slices of the concat net; auxiliary heads for MMPareto, Gradient Blending and UME). cost/step: seconds per training step ÷ the vanilla step of the same net in this run.',
  ];
  writeFileAtomically(join(o.dir, 'report.html'), htmlReport('Balancers on Colored-and-gray-MNIST', table, figures, notes));
  return out;
}

