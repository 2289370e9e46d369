import { NVGESTURE_DOWNLOAD_HINT } from '@mm/datasets/nvgesture';
import { RUN_OPTIONS, UsageError, type CliValues } from '@mm/example-kit';

export const METHODS = ['vanilla', 'random', 'guided', 'unimodal'] as const;
export type Method = (typeof METHODS)[number];

/** Everything that defines a run; saved in its folder so `--resume` continues it identically. */
export interface NvGestureConfig {
  data: string;
  method: Method;
  /** Uni-modal runs: which modality. */
  modality: 'rgb' | 'depth';
  /** Kinetics-pretrained InceptionI3d state dict (safetensors) for the branches. */
  pretrained: string | null;
  frames: number;
  /** Crop side; frames are first resized to round(size·256/224). */
  size: number;
  batchSize: number;
  learningRate: number;
  momentum: number;
  alpha: number;
  windowSize: number;
  epochs: number;
  /** Use only the first N samples of each list (CPU-scale runs). */
  limit: number | null;
  seed: number;
  gateScale: number;
  /** Clips decoded at the same time. */
  concurrency: number;
  skipBad: boolean;
}

/** The paper's NVGesture settings (Table 1): 64 frames at 224, batch 4, SGD lr 0.01 momentum 0.9, α 0.1, Q 5. */
export const PAPER_DEFAULTS = { frames: 64, size: 224, batchSize: 4, learningRate: 0.01, momentum: 0.9, alpha: 0.1, windowSize: 5, epochs: 30, seed: 0, gateScale: 2, concurrency: 2 } as const;

export const CLI = {
  usage: 'pnpm --filter @mm/example-nvgesture start -- --data DIR [options]',
  summary: `Trains the paper's NVGesture network (two I3D branches, RGB and depth, MMTM in Mixed_4c…Mixed_5c)
and reports validation/test accuracy and the conditional utilization rate.
CPU-scale example: --frames 8 --size 64 --limit 40 --epochs 3`,
  options: {
    data: { kind: 'string', value: 'DIR', help: 'NVGesture root (with Video_data/ and the *_cvpr2016_v2.lst files)' },
    method: { kind: 'choice', choices: METHODS, help: 'default guided' },
    modality: { kind: 'choice', choices: ['rgb', 'depth'], help: 'for --method unimodal (default rgb)' },
    pretrained: { kind: 'string', value: 'FILE', help: 'Kinetics InceptionI3d state dict (.safetensors) for both branches\n(the depth stem averages the RGB filters over the input channels)' },
    frames: { kind: 'int', value: 'N', min: 1, help: `frames per clip (paper ${PAPER_DEFAULTS.frames})` },
    size: { kind: 'int', value: 'N', min: 32, help: `crop side (paper ${PAPER_DEFAULTS.size})` },
    'batch-size': { kind: 'int', value: 'N', min: 1, help: `(paper ${PAPER_DEFAULTS.batchSize})` },
    lr: { kind: 'number', value: 'X', positive: true, help: `(paper ${PAPER_DEFAULTS.learningRate})` },
    momentum: { kind: 'number', value: 'X', min: 0, help: `(paper ${PAPER_DEFAULTS.momentum})` },
    alpha: { kind: 'number', value: 'X', min: 0, help: `guided imbalance tolerance (paper ${PAPER_DEFAULTS.alpha})` },
    window: { kind: 'int', value: 'Q', min: 1, help: `re-balancing window (paper ${PAPER_DEFAULTS.windowSize})` },
    epochs: { kind: 'int', value: 'N', min: 1, help: `(default ${PAPER_DEFAULTS.epochs})` },
    limit: { kind: 'int', value: 'N', min: 1, help: 'use the first N samples of each list' },
    seed: { kind: 'int', value: 'N', min: 0, help: 'default 0' },
    'gate-scale': { kind: 'number', value: 'X', positive: true, help: 'MMTM gate = X·σ (default 2)' },
    concurrency: { kind: 'int', value: 'N', min: 1, help: 'clips decoded at once (default 2)' },
    'skip-bad': { kind: 'flag', help: 'skip unreadable samples (counted in results.json) instead of stopping' },
    ...RUN_OPTIONS,
  },
  epilog: `Get the data: ${NVGESTURE_DOWNLOAD_HINT}`,
} as const;

export type CliOptions = CliValues<(typeof CLI)['options']>;

export function configFromCli(args: CliOptions): NvGestureConfig {
  if (!args.data) throw new UsageError(`--data DIR is required.\n${NVGESTURE_DOWNLOAD_HINT}`);
  return {
    data: args.data,
    method: args.method ?? 'guided',
    modality: args.modality ?? 'rgb',
    pretrained: args.pretrained ?? null,
    frames: args.frames ?? PAPER_DEFAULTS.frames,
    size: args.size ?? PAPER_DEFAULTS.size,
    batchSize: args['batch-size'] ?? PAPER_DEFAULTS.batchSize,
    learningRate: args.lr ?? PAPER_DEFAULTS.learningRate,
    momentum: args.momentum ?? PAPER_DEFAULTS.momentum,
    alpha: args.alpha ?? PAPER_DEFAULTS.alpha,
    windowSize: args.window ?? PAPER_DEFAULTS.windowSize,
    epochs: args.epochs ?? PAPER_DEFAULTS.epochs,
    limit: args.limit ?? null,
    seed: args.seed ?? PAPER_DEFAULTS.seed,
    gateScale: args['gate-scale'] ?? PAPER_DEFAULTS.gateScale,
    concurrency: args.concurrency ?? PAPER_DEFAULTS.concurrency,
    skipBad: args['skip-bad'],
  };
}

/** Resize side for a crop side, keeping the paper's 256 → 224 ratio. */
export const resizeFor = (crop: number) => Math.round((crop * 256) / 224);
