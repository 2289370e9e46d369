/**
 * One Colored-and-gray-MNIST training run as a sweep runner: a worker imports this module in a
 * training process of its own and runs one (method, seed, settings) per job with `trainOne`,
 * checkpointing in the run's folder of the shared runs directory.
 */
import { initBackend } from '@mm/backend';
import { buildColoredGrayMnist, type ColoredGrayMnist } from '@mm/datasets/colored-mnist';
import { checkpointedEpochs, progressFraction, progressLine } from '@mm/example-kit';
import { canonicalJson, defineRunner } from '@mm/sweep';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { BENCHMARK_METHOD_NAMES, benchmarkRunSpec, type BenchmarkMethod } from './balancers.js';
import type { RunSettings } from './config.js';
import { runLine } from './run.js';
import { checkRunSettings } from './settings-check.js';
import { trainOne, withoutSteps, type RunSummary } from './train-one.js';

/** One run: a method of Table 1 or of the balancer benchmark, a seed, and the run's settings. */
export interface CgMnistRunConfig {
  method: BenchmarkMethod;
  seed: number;
  settings: RunSettings;
}

export interface CgMnistRunResult {
  /** The tfjs backend the run trained on. */
  backend: string;
  /** The result without its per-step log (that stays in the run folder's result.json). */
  run: RunSummary;
}

function checkRunConfig(value: unknown): CgMnistRunConfig {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new Error(`expected { method, seed, settings }, got ${JSON.stringify(value)}`);
  const { method, seed, settings, ...rest } = value as Record<string, unknown>;
  if (Object.keys(rest).length) throw new Error(`unknown field${Object.keys(rest).length > 1 ? 's' : ''} ${Object.keys(rest).join(', ')}; a run is { method, seed, settings }`);
  if (typeof method !== 'string' || !(BENCHMARK_METHOD_NAMES as string[]).includes(method)) throw new Error(`method must be one of ${BENCHMARK_METHOD_NAMES.join(', ')}, got ${JSON.stringify(method)}`);
  if (typeof seed !== 'number' || !Number.isInteger(seed) || seed < 0) throw new Error(`seed must be an integer ≥ 0, got ${JSON.stringify(seed)}`);
  return { method: method as BenchmarkMethod, seed, settings: checkRunSettings(settings) };
}

/** `colored-mnist/<method>-seed<k>-<hash of the config>`: readable, and distinct for distinct configs. */
export function runFolder(config: CgMnistRunConfig): string {
  const hash = createHash('sha256').update(canonicalJson(config)).digest('hex').slice(0, 12);
  return `colored-mnist/${config.method}-seed${config.seed}-${hash}`;
}

// A training process runs many jobs one after another: the data set and the backend are made once.
const datasets = new Map<string, ColoredGrayMnist>();
function dataFor(s: RunSettings): ColoredGrayMnist {
  const options = { trainSize: s.trainSize, testSize: s.testSize, validationFraction: s.validationFraction, variance: s.variance, seed: s.dataSeed, testColoring: s.testColoring };
  const key = JSON.stringify(options);
  let data = datasets.get(key);
  if (!data) {
    data = buildColoredGrayMnist(options);
    datasets.set(key, data);
  }
  return data;
}
let backend: Promise<string> | undefined;

export const runner = defineRunner<CgMnistRunConfig, CgMnistRunResult>({
  validate: checkRunConfig,
  folder: runFolder,
  label: (c) => `${c.method} seed ${c.seed} (${c.method.startsWith('unimodal-') ? '' : `${c.settings.pair.join('+')}, `}lr ${c.settings.learningRate.toPrecision(3)})`,
  // UMT distils from this seed's uni-modal runs: they train first, in their own jobs.
  needs: (c) => (c.method === 'umt' ? (['unimodal-colored', 'unimodal-gray'] as const).map((method) => ({ ...c, method })) : []),
  async run(config, ctx) {
    // The worker passes MM_BACKEND / MM_WASM_THREADS to this process's environment.
    const backendName = await (backend ??= initBackend({ log: false }));
    const data = dataFor(config.settings);
    const resumeAfter = checkpointedEpochs(ctx.dir);
    ctx.log(resumeAfter > 0 ? `continuing from the checkpoint after epoch ${resumeAfter} (attempt ${ctx.attempt})` : `training from the start (attempt ${ctx.attempt})`);
    const spec = benchmarkRunSpec(config.method, config.seed, {
      settings: config.settings,
      runDir: (method, seed) => join(ctx.runsDir, runFolder({ ...config, method, seed })),
    });
    const result = await trainOne(spec, {
      data,
      settings: config.settings,
      dir: ctx.dir,
      progress: (p) => ctx.progress({ fraction: progressFraction(p), text: progressLine(p) }),
    });
    ctx.log(runLine(result));
    return { backend: backendName, run: withoutSteps(result) };
  },
});
