import type { CgMnistModality } from '@mm/datasets/colored-mnist';
import { RUN_OPTIONS, UsageError, type CliValues } from '@mm/example-kit';

export const METHODS = ['unimodal-colored', 'unimodal-gray', 'vanilla', 'rubi', 'random', 'guided'] as const;
export type Method = (typeof METHODS)[number];

/** Everything that fixes a run's result; saved in its folder so `--resume` continues identically. */
export interface ExperimentSettings {
  /** Training samples (60,000 = all of MNIST's training split). */
  trainSize: number;
  /** Test samples from MNIST's test split (the rest of the 10,000 after validation). */
  testSize?: number;
  validationFraction: number;
  variance: number;
  /** How validation and test samples are colored ('class-means': a random class's mean color; 'uniform': any color). */
  testColoring?: 'class-means' | 'uniform';
  dataSeed: number;
  batchSize: number;
  learningRate: number;
  momentum: number;
  /** Maximum epochs; the first is the warm-up of the balancing schedulers. */
  epochs: number;
  /** Stop a run once its training accuracy (on `trainAccuracySamples` samples) reaches this. */
  stopAtTrainAccuracy?: number;
  trainAccuracySamples: number;
  /**
   * Training samples of the recording pass for h̄ (Eq. 6) before the cut-flow evaluation; all
   * when unset, which is Eq. 6's average over the training set (the full preset). A subset (the
   * first N of the training split) only saves time; its effect on d_util was measured on a
   * reduced vanilla run (seed 1, best checkpoint): +0.1294 with 2,000 of the 6,000 training
   * samples, +0.1286 with all of them — one of 2,000 test predictions of a cut head changed.
   */
  squeezeRecordingSamples?: number;
  alpha: number;
  windowSize: number;
  logBase: number;
  gateScale: number;
  widths: [number, number, number, number];
  /** Which method runs over which seeds. */
  plan: { method: Method; seeds: number[] }[];
  /** The two modalities fed to the fused net (§6.2 also trains (gray, gray) and (colored, colored)). */
  pair: [CgMnistModality, CgMnistModality];
}

/** The settings of one run: all of {@link ExperimentSettings} but the plan of runs. */
export type RunSettings = Omit<ExperimentSettings, 'plan'>;

/** A whole invocation: Table 1, or the §6.2 sweep. */
export interface ColoredMnistConfig extends ExperimentSettings {
  mode: 'table' | 'sweep';
  /** The preset the settings started from. */
  preset: 'default' | 'medium' | 'full';
  /** Models per modality pair in the sweep. */
  sweepRuns: number;
}

/**
 * The default: a reduced scale chosen so the whole table fits in well under 10 minutes on a
 * 2-core CPU with the wasm backend on both cores (the README gives the measured time and what it
 * shows).
 */
export function defaultSettings(): ExperimentSettings {
  return {
    trainSize: 6000,
    validationFraction: 0.1,
    testSize: 2000,
    variance: 0.02,
    dataSeed: 1,
    batchSize: 64,
    learningRate: 0.01,
    momentum: 0.9,
    epochs: 3,
    trainAccuracySamples: 512,
    // A third of the training set for h̄ (see ExperimentSettings); kept so the printed table stays
    // comparable with earlier runs of this preset.
    squeezeRecordingSamples: 2000,
    alpha: 0.1,
    windowSize: 5,
    logBase: 10,
    gateScale: 2,
    widths: [8, 16, 32, 64],
    plan: [
      { method: 'unimodal-colored', seeds: [1] },
      { method: 'unimodal-gray', seeds: [1] },
      { method: 'vanilla', seeds: [1, 2, 3] },
      { method: 'rubi', seeds: [1] },
      { method: 'random', seeds: [1] },
      { method: 'guided', seeds: [1, 2, 3] },
    ],
    pair: ['colored', 'gray'],
  };
}

/** The paper's setting (§6.1, Table 1): all 60,000 samples, batch 128, until 100% training accuracy. */
export function fullSettings(): ExperimentSettings {
  return {
    ...defaultSettings(),
    trainSize: 60000,
    validationFraction: 0.2,
    testSize: undefined,
    batchSize: 128,
    epochs: 100,
    stopAtTrainAccuracy: 1,
    trainAccuracySamples: 60000,
    squeezeRecordingSamples: undefined,
    widths: [16, 32, 64, 128],
    plan: METHODS.map((method) => ({ method, seeds: [1, 2, 3] })),
  };
}

/**
 * As close to the paper as about an hour on a 2-core CPU allows: all 60,000 samples, the
 * paper's widths, batch, optimizer, α and Q, stopping at 100% training accuracy, but one seed
 * of uni-modal gray, vanilla and guided, at most 6 epochs, and the stopping rule and h̄ measured
 * on 10,000 training samples instead of all of them.
 */
export function mediumSettings(): ExperimentSettings {
  return {
    ...fullSettings(),
    epochs: 6,
    trainAccuracySamples: 10000,
    squeezeRecordingSamples: 10000,
    plan: [
      { method: 'unimodal-gray', seeds: [1] },
      { method: 'vanilla', seeds: [1] },
      { method: 'guided', seeds: [1] },
    ],
  };
}

/** Table 1 of the paper, Colored-and-gray-MNIST column (test accuracy %, mean ± std of 3 runs). */
export const PAPER_TABLE1: Record<string, { mean: number; std: number } | undefined> = {
  'unimodal-gray': { mean: 99.14, std: 0.11 },
  vanilla: { mean: 45.26, std: 0.46 },
  rubi: { mean: 44.79, std: 0.62 },
  random: { mean: 74.07, std: 2.75 },
  guided: { mean: 91.01, std: 1.2 },
};

export function isUnimodal(method: Method): method is 'unimodal-colored' | 'unimodal-gray' {
  return method.startsWith('unimodal-');
}

export const CLI = {
  usage: 'pnpm main -- [options]   (or: pnpm --filter @mm/example-colored-mnist start -- [options])',
  summary: `Colored-and-gray-MNIST reproduction (Wu et al., ICML 2022) on TensorFlow.js.

Modes
  (default)   reduced-scale Table 1: uni-modal (colored, gray), vanilla, RUBi, random and guided,
              ~6 minutes on a 2-core CPU; prints the table beside the paper's
  --medium    the paper's data, model and optimizer for uni-modal gray, vanilla and guided, one
              seed, at most 6 epochs: about an hour on a 2-core CPU
  --full      the paper's setting: 60,000 samples, batch 128, SGD lr 0.01 momentum 0.9, alpha 0.1,
              Q 5, until 100% training accuracy, best-validation checkpoint, 3 seeds
  --sweep     §6.2: vanilla models over log-uniform learning rates for the pairs (colored, gray),
              (gray, gray), (colored, colored); histograms of d_util and d_speed`,
  options: {
    full: { kind: 'flag', help: "the paper's setting (see above)" },
    medium: { kind: 'flag', help: "the paper's data, model and optimizer in about an hour: 60,000 samples,\nuni-modal gray, vanilla, guided, one seed, at most 6 epochs" },
    sweep: { kind: 'flag', help: 'the greedy-learner experiment of §6.2' },
    methods: { kind: 'list', value: 'LIST', of: METHODS, help: `comma-separated subset of ${METHODS.join(', ')}` },
    seeds: { kind: 'int', value: 'N', min: 1, help: 'run every method over seeds 1..N' },
    epochs: { kind: 'int', value: 'N', min: 1, help: 'maximum epochs (the first is the balancing warm-up)' },
    'train-size': { kind: 'int', value: 'N', min: 1, help: 'training samples (max 60000)' },
    'batch-size': { kind: 'int', value: 'N', min: 1, help: 'batch size' },
    lr: { kind: 'number', value: 'X', positive: true, help: 'learning rate' },
    alpha: { kind: 'number', value: 'X', min: 0, help: 'imbalance tolerance α of the guided scheduler' },
    window: { kind: 'int', value: 'Q', min: 1, help: 're-balancing window size Q' },
    widths: { kind: 'ints', value: 'A,B,C,D', count: 4, min: 1, help: 'channels of the four conv blocks' },
    'sweep-runs': { kind: 'int', value: 'N', min: 1, help: 'models per pair in --sweep (default 6)' },
    'test-colors': { kind: 'choice', choices: ['class-means', 'uniform'], help: "validation/test colors independent of the label: a random class's\nmean color (default) or uniform in the RGB cube" },
    ...RUN_OPTIONS,
  },
  epilog: `Outputs in the folder: results.json, report.html with SVG/PNG plots (d_speed with the
re-balancing windows, accuracy curves, Table-1 comparison), samples-train.png and samples-test.png,
and per-run checkpoints written atomically after every epoch (kill and --resume at any time).`,
} as const;

export type CliOptions = CliValues<(typeof CLI)['options']>;

/** The configuration a command line asks for (presets, then the flags on top). */
export function configFromCli(args: Omit<CliOptions, keyof typeof RUN_OPTIONS>): ColoredMnistConfig {
  if (args.full && args.medium) throw new UsageError('--full and --medium are two presets: choose one');
  const s = args.full ? fullSettings() : args.medium ? mediumSettings() : defaultSettings();
  if (args.epochs !== undefined) s.epochs = args.epochs;
  if (args['train-size'] !== undefined) s.trainSize = args['train-size'];
  if (args['batch-size'] !== undefined) s.batchSize = args['batch-size'];
  if (args.lr !== undefined) s.learningRate = args.lr;
  if (args.alpha !== undefined) s.alpha = args.alpha;
  if (args.window !== undefined) s.windowSize = args.window;
  if (args.widths !== undefined) s.widths = args.widths as ExperimentSettings['widths'];
  if (args['test-colors'] !== undefined) s.testColoring = args['test-colors'];
  if (s.trainSize > 60000) throw new UsageError(`--train-size is at most 60000 (MNIST's training split), got ${s.trainSize}`);
  if (args.methods) {
    const known = new Map(s.plan.map((p) => [p.method, p.seeds]));
    s.plan = (args.methods as Method[]).map((method) => ({ method, seeds: known.get(method) ?? [1] }));
  }
  if (args.seeds !== undefined) s.plan = s.plan.map((p) => ({ ...p, seeds: Array.from({ length: args.seeds! }, (_, i) => i + 1) }));
  return { ...s, mode: args.sweep ? 'sweep' : 'table', preset: args.full ? 'full' : args.medium ? 'medium' : 'default', sweepRuns: args['sweep-runs'] ?? 6 };
}
