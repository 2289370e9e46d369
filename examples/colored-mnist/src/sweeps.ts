/**
 * The Colored-and-gray-MNIST experiments as sweeps: Table 1 and §6.2 (from the main job's config)
 * and the balancer benchmark become one run per (method, seed) for the runner of
 * sweep-runner.ts; a collected sweep becomes the same results.json and report as a local run.
 */
import { buildColoredGrayMnist } from '@mm/datasets/colored-mnist';
import { readJson, type StepLog } from '@mm/example-kit';
import { canonicalJson, type CollectedSweep, type SweepSpec } from '@mm/sweep';
import { join } from 'node:path';
import type { ColoredMnistConfig } from './config.js';
import { balancerRuns, writeBalancerResults, type BalancerBenchmarkConfig, type BalancerBenchmarkResults } from './run-balancers.js';
import { sweepRuns, tableRuns, writeSampleGrids, writeSweepResults, writeTableResults, type SweepResults, type TableResults } from './run.js';
import { runSettingsOf } from './settings-check.js';
import type { CgMnistRunConfig, CgMnistRunResult } from './sweep-runner.js';
import { COLORED_MNIST_RUNNER, SWEEP_KINDS } from './sweep-names.js';
import type { RunResult } from './train-one.js';

export { COLORED_MNIST_RUNNER, SWEEP_KINDS };

const runOf = (config: CgMnistRunConfig) => ({ runner: COLORED_MNIST_RUNNER, config });

/** The runs of the main job's config: Table 1 (one per planned method and seed), or §6.2 with `mode: 'sweep'`. */
export function coloredMnistSweep(config: ColoredMnistConfig): SweepSpec {
  const settings = runSettingsOf(config);
  if (config.mode === 'sweep') {
    return { kind: SWEEP_KINDS.sweep, meta: config, runs: sweepRuns(config).map((r) => runOf({ method: 'vanilla', seed: r.seed, settings: { ...settings, pair: r.pair, learningRate: r.learningRate } })) };
  }
  return { kind: SWEEP_KINDS.table, meta: config, runs: tableRuns(config).map(({ method, seed }) => runOf({ method, seed, settings })) };
}

/** The balancer benchmark's runs (UMT's teachers are its prerequisites). */
export function balancerSweep(config: BalancerBenchmarkConfig): SweepSpec {
  const settings = runSettingsOf(config);
  return { kind: SWEEP_KINDS.balancers, meta: config, runs: balancerRuns(config).map(({ method, seed }) => runOf({ method, seed, settings })) };
}

/** Every collected run's result, in the order of the runs its sweep was built from. */
function resultsInOrder(collected: CollectedSweep, spec: SweepSpec): { run: CollectedSweep['runs'][number]; result: CgMnistRunResult }[] {
  const byConfig = new Map(collected.runs.map((r) => [canonicalJson(r.config), r]));
  return spec.runs.map(({ config }) => {
    const run = byConfig.get(canonicalJson(config));
    if (!run) throw new Error(`sweep ${collected.id} has no result for ${JSON.stringify(config)}; was it submitted by another version of this program?`);
    return { run, result: run.result as unknown as CgMnistRunResult };
  });
}

/** The backends the runs trained on ('wasm', or e.g. 'wasm, cpu' when workers differed). */
const backendsOf = (results: { result: CgMnistRunResult }[]) => [...new Set(results.map((r) => r.result.backend))].join(', ');

export interface WriteCollectedOptions {
  /** Where results.json and the report go. */
  dir: string;
  /** The shared runs directory: Table 1's loss and d_speed figures read the per-step logs of the runs there. */
  runsDir?: string;
}

/**
 * Writes what the local run of the same config writes (results.json, report.html, figures,
 * sample grids) from a collected Colored-and-gray-MNIST sweep; `wallSeconds` is the sweep's,
 * from submission until its last run finished.
 */
export async function writeCollected(collected: CollectedSweep, o: WriteCollectedOptions): Promise<TableResults | SweepResults | BalancerBenchmarkResults> {
  const common = { dir: o.dir, wallSeconds: collected.wallSeconds };
  switch (collected.kind) {
    case SWEEP_KINDS.table:
    case SWEEP_KINDS.sweep: {
      const config = collected.meta as unknown as ColoredMnistConfig;
      const results = resultsInOrder(collected, coloredMnistSweep(config));
      await writeSampleGrids(buildColoredGrayMnist({ trainSize: config.trainSize, testSize: config.testSize, validationFraction: config.validationFraction, variance: config.variance, seed: config.dataSeed, testColoring: config.testColoring }), o.dir);
      if (config.mode === 'sweep') {
        const runs = sweepRuns(config);
        return writeSweepResults(config, results.map((r, i) => ({ run: runs[i], result: r.result.run })), { ...common, backend: backendsOf(results) });
      }
      const { runsDir } = o;
      if (runsDir === undefined) throw new Error('collecting Table 1 needs --runs DIR (the shared runs directory): its loss and d_speed figures are drawn from the per-step logs in the runs\' folders');
      const folders = new Map(results.map((r) => [r.result.run, r.run.folder]));
      const steps = (run: CgMnistRunResult['run']): StepLog[] => readJson<RunResult>(join(runsDir, folders.get(run)!, 'result.json')).steps;
      return writeTableResults(config, results.map((r) => r.result.run), { ...common, backend: backendsOf(results), steps });
    }
    case SWEEP_KINDS.balancers: {
      const config = collected.meta as unknown as BalancerBenchmarkConfig;
      const results = resultsInOrder(collected, balancerSweep(config));
      return writeBalancerResults(config, results.map((r) => r.result.run), { ...common, backend: backendsOf(results) });
    }
    default:
      throw new Error(`sweep ${collected.id} is a '${collected.kind}' sweep; this program writes results for ${Object.values(SWEEP_KINDS).join(', ')}`);
  }
}
