import type { CgMnistModality } from '@mm/datasets/colored-mnist';

export const METHODS = ['unimodal-colored', 'unimodal-gray', 'vanilla', 'rubi', 'random', 'guided'] as const;
export type Method = (typeof METHODS)[number];

/** Everything that fixes a run's result; stored in run.json so `--resume` continues identically. */
export interface ExperimentSettings {
  /** Training samples (60,000 = all of MNIST's training split). */
  trainSize: number;
  /** Test samples from MNIST's test split (the rest of the 10,000 after validation). */
  testSize?: number;
  validationFraction: number;
  variance: number;
  dataSeed: number;
  batchSize: number;
  learningRate: number;
  momentum: number;
  /** Maximum epochs; the first is the warm-up of the balancing schedulers. */
  epochs: number;
  /** Stop a run once its training accuracy (on `trainAccuracySamples` samples) reaches this. */
  stopAtTrainAccuracy?: number;
  trainAccuracySamples: number;
  /** Training samples of the recording pass for h̄ (Eq. 6) before the cut-flow evaluation; all when unset. */
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

/**
 * The default: a reduced scale chosen so the whole table fits in well under 10 minutes on a
 * 2-core CPU with the wasm backend on both cores (see the README for the measured time and
 * what it shows).
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
