import { MODELNET40_DEFAULT_VIEWS, MODELNET40_DOWNLOAD_HINT } from '@mm/datasets/modelnet40';
import { RUN_OPTIONS, UsageError, type CliValues } from '@mm/example-kit';

export const METHODS = ['vanilla', 'random', 'guided', 'unimodal'] as const;
export type Method = (typeof METHODS)[number];

/** Everything that defines a run; saved in its folder so `--resume` continues it identically. */
export interface ModelNet40Config {
  data: string;
  method: Method;
  /** 0-based view indices; uni-modal uses the first. */
  views: number[];
  imageSize: number;
  /** Objects per split (a fixed random subset); null = all. */
  limit: number | null;
  epochs: number;
  batchSize: number;
  learningRate: number;
  /** Imbalance tolerance α (log10 units, as the reference code). */
  alpha: number;
  /** Re-balancing window Q. */
  windowSize: number;
  /** ReduceLROnPlateau on the epoch's training loss. */
  plateauFactor: number;
  plateauPatience: number;
  seed: number;
  skipBadObjects: boolean;
  /** MMTM gate scale: 2 (paper) or 1 (reference code). */
  gateScale: number;
  /** torchvision ResNet18 state dict (safetensors) to initialise every branch with (ImageNet weights); the heads stay fresh. */
  pretrained: string | null;
}

/** The paper's ModelNet40 settings (Table 1): SGD lr 0.1 without momentum, batch 8, α 0.01, Q 5. */
export const PAPER_DEFAULTS = {
  views: [...MODELNET40_DEFAULT_VIEWS],
  imageSize: 224,
  epochs: 50,
  batchSize: 8,
  learningRate: 0.1,
  alpha: 0.01,
  windowSize: 5,
  plateauFactor: 0.3,
  plateauPatience: 10,
  seed: 0,
  gateScale: 2,
} as const;

export const CLI = {
  usage: 'pnpm --filter @mm/example-modelnet40 start -- --data DIR [options]',
  summary: `The paper's ModelNet40 experiment on TensorFlow.js: one ResNet18 branch per view (front and rear by
default), MMTM after layer2–4, vanilla / random / guided re-balancing or a uni-modal baseline; validation
every epoch, atomic checkpoints, test accuracy and the conditional utilization rate of the
best-validation weights.`,
  options: {
    data: { kind: 'string', value: 'DIR', help: 'folder holding the 40 class folders of modelnet40_images_new_12x' },
    method: { kind: 'choice', choices: METHODS, help: 'default guided' },
    views: { kind: 'ints', value: 'LIST', min: 0, help: '0-based views, e.g. 0,6 (front, rear; default) or 0,4,8; unimodal uses the first' },
    'image-size': { kind: 'int', value: 'N', min: 8, help: 'resize views to N×N (default 224; 64 or 32 for CPU-scale runs)' },
    limit: { kind: 'int', value: 'N', min: 1, help: 'at most N objects per split (fixed random subset)' },
    epochs: { kind: 'int', value: 'N', min: 1, help: `default ${PAPER_DEFAULTS.epochs}` },
    'batch-size': { kind: 'int', value: 'N', min: 1, help: `default ${PAPER_DEFAULTS.batchSize}` },
    lr: { kind: 'number', value: 'X', positive: true, help: `SGD learning rate, no momentum (default ${PAPER_DEFAULTS.learningRate})` },
    alpha: { kind: 'number', value: 'X', min: 0, help: `imbalance tolerance α, log10 units (default ${PAPER_DEFAULTS.alpha})` },
    window: { kind: 'int', value: 'Q', min: 1, help: `re-balancing window (default ${PAPER_DEFAULTS.windowSize})` },
    'gate-scale': { kind: 'number', value: 'X', positive: true, help: 'MMTM gate = X·σ (2: paper, default; 1: reference code)' },
    seed: { kind: 'int', value: 'N', min: 0, help: 'default 0' },
    'skip-bad': { kind: 'flag', help: 'skip objects with missing views or corrupt PNGs (counted in results.json)' },
    pretrained: { kind: 'string', value: 'FILE', help: 'initialise every branch from a torchvision resnet18 state_dict saved as\nsafetensors (e.g. ImageNet weights); the heads keep their initialisation' },
    ...RUN_OPTIONS,
  },
  epilog: `Get the data: ${MODELNET40_DOWNLOAD_HINT}.
Try it without the download: pnpm --filter @mm/example-modelnet40 fixture /tmp/mn40, then --data /tmp/mn40 --image-size 32.`,
} as const;

export type CliOptions = CliValues<(typeof CLI)['options']>;

export function configFromCli(args: CliOptions): ModelNet40Config {
  if (!args.data) throw new UsageError('--data is required: this app trains on the real ModelNet40 renders and does not download them.');
  const method = args.method ?? 'guided';
  const views = args.views ?? [...PAPER_DEFAULTS.views];
  if (views.some((v) => v > 11)) throw new UsageError(`--views takes 0-based view indices 0…11, got ${views.join(',')}`);
  if (method !== 'unimodal' && views.length < 2) throw new UsageError(`--method ${method} fuses views: give at least two (e.g. --views 0,6), or use --method unimodal`);
  return {
    data: args.data,
    method,
    views: method === 'unimodal' ? views.slice(0, 1) : views,
    imageSize: args['image-size'] ?? PAPER_DEFAULTS.imageSize,
    limit: args.limit ?? null,
    epochs: args.epochs ?? PAPER_DEFAULTS.epochs,
    batchSize: args['batch-size'] ?? PAPER_DEFAULTS.batchSize,
    learningRate: args.lr ?? PAPER_DEFAULTS.learningRate,
    alpha: args.alpha ?? PAPER_DEFAULTS.alpha,
    windowSize: args.window ?? PAPER_DEFAULTS.windowSize,
    plateauFactor: PAPER_DEFAULTS.plateauFactor,
    plateauPatience: PAPER_DEFAULTS.plateauPatience,
    seed: args.seed ?? PAPER_DEFAULTS.seed,
    skipBadObjects: args['skip-bad'],
    gateScale: args['gate-scale'] ?? PAPER_DEFAULTS.gateScale,
    pretrained: args.pretrained ?? null,
  };
}
