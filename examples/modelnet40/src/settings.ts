import { MODELNET40_DEFAULT_VIEWS, MODELNET40_DOWNLOAD_HINT } from '@mm/datasets/modelnet40';

export type Method = 'vanilla' | 'random' | 'guided' | 'unimodal';
export const METHODS: readonly Method[] = ['vanilla', 'random', 'guided', 'unimodal'];

/** Everything that defines a run; stored in the checkpoint so a resume cannot silently change it. */
export interface RunSettings {
  data: string;
  out: string;
  method: Method;
  /** 0-based view indices; uni-modal uses the first. */
  views: number[];
  imageSize: number;
  /** Objects per split (fixed random subset); undefined = all. */
  limit?: number;
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
  resume: boolean;
  /** torchvision ResNet18 state dict (safetensors) to initialise every branch with (ImageNet weights); the heads stay fresh. */
  pretrained?: string;
  /** Progress line every this many steps. */
  logEvery: number;
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
  logEvery: 50,
} as const;

export const USAGE = `usage: modelnet40 --data DIR [options]

  --data DIR            folder holding the 40 class folders of modelnet40_images_new_12x
  --method M            vanilla | random | guided | unimodal (default guided)
  --views LIST          0-based views, e.g. 0,6 (front, rear; default) or 0,4,8; unimodal uses the first
  --image-size N        resize views to N×N (default 224; 64 or 32 for CPU-scale runs)
  --limit N             at most N objects per split (fixed random subset)
  --epochs N            default ${PAPER_DEFAULTS.epochs}
  --batch-size N        default ${PAPER_DEFAULTS.batchSize}
  --lr X                SGD learning rate, no momentum (default ${PAPER_DEFAULTS.learningRate})
  --alpha X             imbalance tolerance α, log10 units (default ${PAPER_DEFAULTS.alpha})
  --window Q            re-balancing window (default ${PAPER_DEFAULTS.windowSize})
  --gate-scale X        MMTM gate = X·σ (2: paper, default; 1: reference code)
  --seed N              default 0
  --skip-bad            skip objects with missing views or corrupt PNGs (counted in results.json)
  --out DIR             default runs/modelnet40-<method>
  --resume              continue from DIR's last checkpoint
  --pretrained FILE     initialise every branch from a torchvision resnet18 state_dict saved as
                        safetensors (e.g. ImageNet weights); the heads keep their initialisation
  --log-every N         progress every N steps (default ${PAPER_DEFAULTS.logEvery})

Get the data: ${MODELNET40_DOWNLOAD_HINT}.`;

export class UsageError extends Error {}

function positiveInteger(flag: string, value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`${flag} needs a positive integer, got '${value}'`);
  return n;
}

function positiveNumber(flag: string, value: string): number {
  const n = Number(value);
  if (!(n > 0 && Number.isFinite(n))) throw new UsageError(`${flag} needs a positive number, got '${value}'`);
  return n;
}

/** Parses the command line; throws UsageError with the reason (the caller prints USAGE and exits non-zero). */
export function parseArgs(argv: readonly string[]): RunSettings {
  const values = new Map<string, string>();
  const flags = new Set<string>();
  const booleans = new Set(['--resume', '--skip-bad', '--help']);
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    // `pnpm start -- --data DIR` passes the separator through.
    if (arg === '--') continue;
    if (!arg.startsWith('--')) throw new UsageError(`unexpected argument '${arg}'`);
    const [name, inline] = arg.split('=', 2);
    if (booleans.has(name)) {
      flags.add(name);
      continue;
    }
    const value = inline ?? argv[++i];
    if (value === undefined) throw new UsageError(`${name} needs a value`);
    values.set(name, value);
  }
  const known = new Set(['--data', '--method', '--views', '--image-size', '--limit', '--epochs', '--batch-size', '--lr', '--alpha', '--window', '--gate-scale', '--seed', '--out', '--log-every', '--pretrained']);
  for (const name of values.keys()) if (!known.has(name)) throw new UsageError(`unknown option ${name}`);
  if (flags.has('--help')) throw new UsageError('');
  const data = values.get('--data');
  if (!data) throw new UsageError(`--data is required: this app trains on the real ModelNet40 renders and does not download them.`);
  const method = (values.get('--method') ?? 'guided') as Method;
  if (!METHODS.includes(method)) throw new UsageError(`--method must be one of ${METHODS.join(', ')}, got '${method}'`);
  const views = (values.get('--views') ?? PAPER_DEFAULTS.views.join(',')).split(',').map((v) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0 || n > 11) throw new UsageError(`--views takes 0-based view indices 0…11, got '${v}'`);
    return n;
  });
  if (method !== 'unimodal' && views.length < 2) throw new UsageError(`--method ${method} fuses views: give at least two (e.g. --views 0,6), or use --method unimodal`);
  const get = <T>(flag: string, parse: (flag: string, v: string) => T, fallback: T): T => (values.has(flag) ? parse(flag, values.get(flag) as string) : fallback);
  return {
    data,
    out: values.get('--out') ?? `runs/modelnet40-${method}`,
    method,
    views: method === 'unimodal' ? views.slice(0, 1) : views,
    imageSize: get('--image-size', positiveInteger, PAPER_DEFAULTS.imageSize),
    limit: get<number | undefined>('--limit', positiveInteger, undefined),
    epochs: get('--epochs', positiveInteger, PAPER_DEFAULTS.epochs),
    batchSize: get('--batch-size', positiveInteger, PAPER_DEFAULTS.batchSize),
    learningRate: get('--lr', positiveNumber, PAPER_DEFAULTS.learningRate),
    alpha: get('--alpha', positiveNumber, PAPER_DEFAULTS.alpha),
    windowSize: get('--window', positiveInteger, PAPER_DEFAULTS.windowSize),
    plateauFactor: PAPER_DEFAULTS.plateauFactor,
    plateauPatience: PAPER_DEFAULTS.plateauPatience,
    seed: get('--seed', (f, v) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 0) throw new UsageError(`${f} needs an integer ≥ 0, got '${v}'`);
      return n;
    }, PAPER_DEFAULTS.seed),
    skipBadObjects: flags.has('--skip-bad'),
    gateScale: get('--gate-scale', positiveNumber, PAPER_DEFAULTS.gateScale),
    resume: flags.has('--resume'),
    pretrained: values.get('--pretrained'),
    logEvery: get('--log-every', positiveInteger, PAPER_DEFAULTS.logEvery),
  };
}
