#!/usr/bin/env node
import { initBackend } from '@mm/backend';
import { buildColoredGrayMnist, writeSampleGrid, type CgMnistModality } from '@mm/datasets/colored-mnist';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { formatTable, stat, summarize } from './aggregate.js';
import { readJson, writeFileAtomically } from './checkpoint.js';
import { createProgressPrinter, endProgressLine } from './progress.js';
import { accuracyPlot, dSpeedPlot, htmlReport, lossPlot, sweepHistograms, tablePlot, writeFigures } from './report.js';
import { defaultSettings, fullSettings, METHODS, type ExperimentSettings, type Method } from './settings.js';
import { trainRun, type RunResult } from './train-run.js';

const HELP = `Colored-and-gray-MNIST reproduction (Wu et al., ICML 2022) on TensorFlow.js

Usage: pnpm --filter @mm/example-colored-mnist start -- [options]

Modes
  (default)          reduced-scale Table 1: uni-modal (colored, gray), vanilla, RUBi, random and
                     guided, ~6 minutes on a 2-core CPU; prints the table beside the paper's
  --full             the paper's setting: 60,000 samples, batch 128, SGD lr 0.01 momentum 0.9,
                     alpha 0.1, Q 5, until 100% training accuracy, best-validation checkpoint, 3 seeds
  --sweep            §6.2: vanilla models over log-uniform learning rates and seeds for the pairs
                     (colored, gray), (gray, gray), (colored, colored); histograms of d_util, d_speed

Options
  --out DIR          output folder (default runs/colored-mnist-<time>)
  --resume DIR       continue an interrupted run in DIR with its saved settings
  --methods LIST     comma-separated subset of ${METHODS.join(', ')}
  --seeds N          run every method over seeds 1..N
  --epochs N         maximum epochs (the first is the balancing warm-up)
  --train-size N     training samples (max 60000)
  --batch-size N     batch size
  --lr X             learning rate
  --alpha X          imbalance tolerance α of the guided scheduler
  --window Q         re-balancing window size Q
  --widths A,B,C,D   channels of the four conv blocks
  --sweep-runs N     models per pair in --sweep (default 6)
  --backend NAME     node-gpu | node | wasm | cpu (default: best available; env MM_BACKEND)
  --quiet            log lines instead of a live progress line
  -h, --help         this text

Outputs in the folder: results.json, report.html with SVG/PNG plots (d_speed with the
re-balancing windows, accuracy curves, Table-1 comparison), samples-train.png and samples-test.png, and per-run
checkpoints written atomically after every epoch (kill and --resume at any time).`;

function parse() {
  // `pnpm main -- --flag` forwards a literal '--' before the flags.
  const argv = process.argv.slice(2);
  const { values } = parseArgs({
    args: argv[0] === '--' ? argv.slice(1) : argv,
    options: {
      help: { type: 'boolean', short: 'h' },
      full: { type: 'boolean' },
      sweep: { type: 'boolean' },
      out: { type: 'string' },
      resume: { type: 'string' },
      methods: { type: 'string' },
      seeds: { type: 'string' },
      epochs: { type: 'string' },
      'train-size': { type: 'string' },
      'batch-size': { type: 'string' },
      lr: { type: 'string' },
      alpha: { type: 'string' },
      window: { type: 'string' },
      widths: { type: 'string' },
      'sweep-runs': { type: 'string' },
      backend: { type: 'string' },
      quiet: { type: 'boolean' },
    },
    allowPositionals: false,
  });
  return values;
}

function positiveNumber(name: string, value: string | undefined, integer = false): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n))) {
    throw new Error(`--${name} must be a positive ${integer ? 'integer' : 'number'}, got '${value}'`);
  }
  return n;
}

type Args = ReturnType<typeof parse>;

function settingsFrom(args: Args): ExperimentSettings & { mode: 'table' | 'sweep'; sweepRuns: number } {
  const s = args.full ? fullSettings() : defaultSettings();
  const set = <K extends keyof ExperimentSettings>(key: K, value: ExperimentSettings[K] | undefined) => {
    if (value !== undefined) s[key] = value;
  };
  set('epochs', positiveNumber('epochs', args.epochs, true));
  set('trainSize', positiveNumber('train-size', args['train-size'], true));
  set('batchSize', positiveNumber('batch-size', args['batch-size'], true));
  set('learningRate', positiveNumber('lr', args.lr));
  set('alpha', args.alpha === undefined ? undefined : Number(args.alpha));
  set('windowSize', positiveNumber('window', args.window, true));
  if (args.widths) {
    const w = args.widths.split(',').map(Number);
    if (w.length !== 4 || w.some((x) => !Number.isInteger(x) || x < 1)) throw new Error(`--widths needs four positive integers like 8,16,32,64, got '${args.widths}'`);
    s.widths = w as ExperimentSettings['widths'];
  }
  if (s.trainSize > 60000) throw new Error(`--train-size is at most 60000 (MNIST's training split), got ${s.trainSize}`);
  if (args.methods) {
    const wanted = args.methods.split(',').map((m) => m.trim());
    const unknown = wanted.filter((m) => !(METHODS as readonly string[]).includes(m));
    if (unknown.length) throw new Error(`unknown method(s) ${unknown.join(', ')}; choose from ${METHODS.join(', ')}`);
    const known = new Map(s.plan.map((p) => [p.method, p.seeds]));
    s.plan = wanted.map((method) => ({ method: method as Method, seeds: known.get(method as Method) ?? [1] }));
  }
  const seeds = positiveNumber('seeds', args.seeds, true);
  if (seeds) s.plan = s.plan.map((p) => ({ ...p, seeds: Array.from({ length: seeds }, (_, i) => i + 1) }));
  return { ...s, mode: args.sweep ? 'sweep' : 'table', sweepRuns: positiveNumber('sweep-runs', args['sweep-runs'], true) ?? 6 };
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

async function main(): Promise<void> {
  const args = parse();
  if (args.help) {
    console.log(HELP);
    return;
  }
  const out = resolve(args.resume ?? args.out ?? join('runs', `colored-mnist-${new Date().toISOString().replace(/[:.]/g, '-')}`));
  const runFile = join(out, 'run.json');
  let settings: ReturnType<typeof settingsFrom>;
  if (args.resume) {
    if (!existsSync(runFile)) throw new Error(`--resume ${args.resume}: no run.json there; point it at the output folder of an earlier run`);
    settings = readJson(runFile);
    console.error(`resuming ${out}`);
  } else {
    settings = settingsFrom(args);
    if (existsSync(runFile)) throw new Error(`${out} already holds a run; use --resume ${out} to continue it or choose another --out`);
    mkdirSync(out, { recursive: true });
    writeFileAtomically(runFile, JSON.stringify(settings, null, 2));
  }
  const backend = await initBackend({ backend: args.backend as never });
  const started = Date.now();
  const tty = Boolean(process.stderr.isTTY);
  const onProgress = createProgressPrinter({ tty, quiet: Boolean(args.quiet) });

  console.error(`building Colored-and-gray-MNIST (${settings.trainSize} training samples, σ² = ${settings.variance}, seed ${settings.dataSeed})…`);
  const data = buildColoredGrayMnist({ trainSize: settings.trainSize, testSize: settings.testSize, validationFraction: settings.validationFraction, variance: settings.variance, seed: settings.dataSeed });
  console.error(`  train ${data.train.size}, validation ${data.validation.size}, test ${data.test.size} (validation and test: color independent of the label)`);
  if (!existsSync(join(out, 'samples-test.png'))) {
    await writeSampleGrid(data.train, join(out, 'samples-train.png'));
    await writeSampleGrid(data.test, join(out, 'samples-test.png'));
  }

  const results: RunResult[] = [];
  const runOne = async (method: Method, seed: number, dir: string, s: ExperimentSettings) => {
    const r = await trainRun(method, seed, { data, settings: s, dir, onProgress });
    endProgressLine(tty && !args.quiet);
    console.error(`  ${method} seed ${seed}: test ${(100 * r.testAccuracy).toFixed(2)}%${r.dUtil !== undefined ? `, d_util ${r.dUtil.toFixed(3)}` : ''}${r.dSpeed != null ? `, d_speed ${r.dSpeed.toFixed(3)}` : ''} (${r.seconds.toFixed(0)} s)`);
    return r;
  };

  if (settings.mode === 'sweep') {
    const byPair: Record<string, { dUtil: number[]; dSpeed: number[]; runs: unknown[] }> = {};
    for (const pair of PAIRS) {
      const key = `(${pair[0]}, ${pair[1]})`;
      byPair[key] = { dUtil: [], dSpeed: [], runs: [] };
      for (let i = 0; i < settings.sweepRuns; i++) {
        const lr = sweepLearningRate(i, settings.sweepRuns);
        const s = { ...settings, pair, learningRate: lr };
        const r = await runOne('vanilla', i + 1, join(out, 'runs', `sweep-${pair.join('-')}-${i + 1}`), s);
        results.push(r);
        if (r.dUtil !== undefined) byPair[key].dUtil.push(r.dUtil);
        if (r.dSpeed != null) byPair[key].dSpeed.push(r.dSpeed);
        byPair[key].runs.push({ learningRate: lr, seed: i + 1, testAccuracy: r.testAccuracy, dUtil: r.dUtil, dSpeed: r.dSpeed });
      }
    }
    const figures = await writeFigures(out, sweepHistograms(byPair));
    const lines = Object.entries(byPair).map(([pair, v]) => `${pair.padEnd(20)} E[d_util] ${stat(v.dUtil).mean.toFixed(3)} ± ${stat(v.dUtil).std.toFixed(3)}   E[d_speed] ${stat(v.dSpeed).mean.toFixed(3)}   (${v.dUtil.length} models)`);
    const table = ['pair                 greediness', ...lines].join('\n');
    writeFileAtomically(join(out, 'results.json'), JSON.stringify({ mode: 'sweep', pairs: byPair, settings, backend, wallSeconds: (Date.now() - started) / 1000 }, null, 2));
    writeFileSync(join(out, 'report.html'), htmlReport('Greedy learner sweep (§6.2)', table, figures, ['Paper: |E[d_util]| ≈ 0.3 for (colored, gray), ≈ 0 for identical modalities.']));
    console.log(table);
    console.log(`\nreport: ${join(out, 'report.html')}`);
    return;
  }

  for (const { method, seeds } of settings.plan) {
    for (const seed of seeds) results.push(await runOne(method, seed, join(out, 'runs', `${method}-seed${seed}`), settings));
  }
  const summary = summarize(results);
  const table = formatTable(summary);
  const wallSeconds = (Date.now() - started) / 1000;
  const firstOf = (m: Method) => results.find((r) => r.method === m);
  const figures: Record<string, string> = { 'table1-comparison': tablePlot(summary) };
  for (const m of ['guided', 'random', 'vanilla'] as const) {
    const r = firstOf(m);
    if (r) figures[`d-speed-${m}`] = dSpeedPlot(r, settings.alpha);
  }
  const curveRuns = settings.plan.map((p) => firstOf(p.method)).filter((r): r is RunResult => r !== undefined);
  figures['validation-accuracy'] = accuracyPlot(curveRuns);
  figures['training-loss'] = lossPlot(curveRuns);
  const figureNames = await writeFigures(out, figures);
  const results_ = {
    mode: args.full ? 'full' : 'default',
    methods: Object.fromEntries(
      Object.entries(summary).map(([m, s]) => [
        m,
        {
          runs: s.runs,
          seeds: s.seeds,
          testAccuracy: { mean: s.testAccuracy.mean, std: s.testAccuracy.std },
          headAccuracy: s.headAccuracy.map((h) => ({ mean: h.mean, std: h.std })),
          ...(s.dUtil ? { dUtil: { mean: s.dUtil.mean, std: s.dUtil.std } } : {}),
          ...(s.dSpeed ? { dSpeed: { mean: s.dSpeed.mean, std: s.dSpeed.std } } : {}),
          ...(s.paper ? { paperTestAccuracy: { mean: s.paper.mean / 100, std: s.paper.std / 100 } } : {}),
        },
      ]),
    ),
    runs: results.map(({ steps: _steps, ...r }) => r),
    settings,
    backend,
    wallSeconds,
  };
  writeFileAtomically(join(out, 'results.json'), JSON.stringify(results_, null, 2));
  const notes = [
    `Backend ${backend}; ${settings.trainSize} training samples, batch ${settings.batchSize}, ${settings.epochs} epoch(s) max, widths ${settings.widths.join('/')}, lr ${settings.learningRate}, α ${settings.alpha}, Q ${settings.windowSize}; wall time ${wallSeconds.toFixed(0)} s.`,
    'Test accuracy of the best-validation checkpoint on the low color–label correlation split; d_util from that checkpoint; d_speed at its step. Paper figures: Table 1 (full scale).',
  ];
  writeFileSync(join(out, 'report.html'), htmlReport('Colored-and-gray-MNIST: Table 1 reproduction', table, figureNames, notes));
  console.log(`\nColored-and-gray-MNIST, test accuracy on the low-correlation split (${settings.trainSize} training samples, backend ${backend}, ${wallSeconds.toFixed(0)} s)\n`);
  console.log(table);
  console.log(`\nresults: ${join(out, 'results.json')}\nreport:  ${join(out, 'report.html')}`);
}

main().catch((error: unknown) => {
  console.error(`\nerror: ${(error as Error).message}`);
  process.exitCode = 1;
});
