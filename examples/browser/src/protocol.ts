// What the page and its training worker say to each other, and the choices the page offers.
import type { CgMnistFusion } from '@mm/models';

/** The backend the page asks for; 'auto' lets `initBackend` pick (webgpu → webgl → wasm → cpu). */
export type BackendRequest = 'auto' | 'webgpu' | 'webgl' | 'wasm' | 'cpu';
export const BACKEND_REQUESTS: readonly BackendRequest[] = ['auto', 'webgpu', 'webgl', 'wasm', 'cpu'];

export interface MethodInfo {
  /** The network it trains: the paper's MMTM net, or the late-fusion nets the other methods are defined for. */
  fusion: Extract<CgMnistFusion, 'mmtm' | 'concat' | 'shared-head'>;
  label: string;
}

/** The methods the page trains, with the net each one is defined for. */
export const METHODS = {
  vanilla: { fusion: 'mmtm', label: 'vanilla (MMTM net)' },
  guided: { fusion: 'mmtm', label: 'guided re-balancing (Wu et al. 2022)' },
  random: { fusion: 'mmtm', label: 'random re-balancing (Wu et al. 2022)' },
  rubi: { fusion: 'mmtm', label: 'RUBi loss (MMTM net)' },
  'vanilla-concat': { fusion: 'concat', label: 'vanilla (concat net)' },
  'ogm-ge': { fusion: 'concat', label: 'OGM-GE (concat net)' },
  agm: { fusion: 'concat', label: 'AGM (concat net)' },
  pmr: { fusion: 'concat', label: 'PMR (concat net)' },
  mmpareto: { fusion: 'concat', label: 'MMPareto (concat net)' },
  'gradient-blending': { fusion: 'concat', label: 'Gradient Blending (concat net)' },
  ume: { fusion: 'concat', label: 'UME (concat net)' },
  'modality-dropout': { fusion: 'concat', label: 'modality dropout (concat net)' },
  mla: { fusion: 'shared-head', label: 'MLA (shared-head net)' },
} as const satisfies Record<string, MethodInfo>;
export type MethodName = keyof typeof METHODS;
export const METHOD_NAMES = Object.keys(METHODS) as MethodName[];

export interface ScalePreset {
  label: string;
  /** Channels of the four conv blocks. */
  widths: [number, number, number, number];
  batchSize: number;
  trainSize: number;
  /** Test samples (MNIST test minus validation; color independent of the label). */
  testSize: number;
  /** Evaluate on the test split every this many steps. */
  evaluateEvery: number;
}

/** Sizes the page offers; the MNIST subset it ships (scripts/prepare-mnist.ts) covers the largest. */
export const SCALES = {
  tiny: { label: 'tiny (widths 4/8/16/32, batch 32, 1,000 samples)', widths: [4, 8, 16, 32], batchSize: 32, trainSize: 1000, testSize: 400, evaluateEvery: 10 },
  small: { label: 'small (8/16/32/64, batch 64, 6,000 samples: the README table)', widths: [8, 16, 32, 64], batchSize: 64, trainSize: 6000, testSize: 1000, evaluateEvery: 25 },
  paper: { label: "paper's net (16/32/64/128, batch 128, 6,000 samples)", widths: [16, 32, 64, 128], batchSize: 128, trainSize: 6000, testSize: 1000, evaluateEvery: 20 },
} as const satisfies Record<string, ScalePreset>;
export type ScaleName = keyof typeof SCALES;
export const SCALE_NAMES = Object.keys(SCALES) as ScaleName[];

/** MNIST samples the page ships (first ones of each split); the largest scale must fit. */
export const SHIPPED_MNIST = { train: 6000, test: 2000 } as const;
/** Share of the shipped test samples held out as validation (the rest is the test split). */
export const VALIDATION_FRACTION = 0.1;

export interface RunSettings {
  method: MethodName;
  scale: ScaleName;
  backend: BackendRequest;
  seed: number;
  /** SGD with momentum, as in the paper. */
  learningRate: number;
  /** Imbalance tolerance α and window Q of the guided scheduler. */
  alpha: number;
  windowSize: number;
}

export const DEFAULT_SETTINGS: RunSettings = { method: 'guided', scale: 'tiny', backend: 'auto', seed: 1, learningRate: 0.01, alpha: 0.1, windowSize: 5 };

export type ToWorker =
  | { type: 'start'; settings: RunSettings; mnistUrl: string }
  | { type: 'pause' }
  | { type: 'resume' };

export interface StepEvent {
  type: 'step';
  step: number;
  epoch: number;
  loss: number;
  /** What the method measured (dSpeed, k0, ratio, …); Greedy's `rebalance` is the modality re-balanced, null on a regular step. */
  metrics: Record<string, number | null>;
  /** Steps per second over the last steps (data to tensors, the step, its read-back); NaN for the first step after an evaluation. */
  stepsPerSecond: number;
  /** tf.memory().numTensors after the step: flat from the second step on, or the run leaks. */
  tensors: number;
}

export interface EvaluationEvent {
  type: 'evaluation';
  step: number;
  /** Accuracy of the prediction on the test split, where color is independent of the label. */
  accuracy: number;
  /** Accuracy of each modality's logits: [colored m0, gray m1]. */
  heads: number[] | null;
}

/** An RGB picture (3 bytes per pixel, row-major). */
export interface SampleGrid {
  pixels: Uint8Array;
  width: number;
  height: number;
}

export interface ReadyEvent {
  type: 'ready';
  /** The backend in use and initBackend's log line (why better ones were skipped). */
  backend: string;
  log: string[];
  threads: number;
  stepsPerEpoch: number;
  parameters: number;
  samples: { train: SampleGrid; test: SampleGrid };
}

export type FromWorker =
  | ReadyEvent
  | StepEvent
  | EvaluationEvent
  | { type: 'paused'; step: number }
  | { type: 'finished'; step: number }
  | { type: 'error'; message: string };
