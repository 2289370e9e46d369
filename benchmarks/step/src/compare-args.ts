import { resolve } from 'node:path';
import { MODEL_NAMES, type ModelName } from './model-steps.js';
import { parseWidths, type Widths } from './network.js';
import { DEFAULT_PYTHON, TORCH_TWIN } from './torch-runs.js';

export const COMPARE_USAGE = `Usage: pnpm --filter @mm/bench-step compare [options]

Times the library's training step (BalancedTrainer.step) alternately with its PyTorch twin and
prints medians and ratios with the load average: on a shared machine only ratios measured in
the same window mean anything.

  (default)   CG-MNIST MMTM net, vanilla step, a few rounds of: torch_twin.py, its CPU time,
              bench:step on fast wasm (all cores, then 1 thread) and on stock wasm
              [--rounds 2] [--batch 128] [--no-stock]
  --scaling   CG-MNIST MMTM net at every batch × thread count, torch_twin.py then bench:step
              [--batches 32,64,128,256] [--threads 1,2] [--steps 10] [--warmup 2]
  --breakdown CG-MNIST MMTM net at one batch, per thread count: torch_twin.py then bench:step with
              its per-kernel profile; prints the wall times and ratios, kernel calls per step,
              Σ kernel ms and the time outside kernels, and every kernel's ms side by side
              across the thread counts
              [--batch 128] [--threads 1,2] [--steps 10] [--warmup 2] [--profile-steps 5]
  --models    fusedResNet18 (two 64×64 views, batch 8) and fusedI3D (RGB + depth 8×64×64 clips,
              batch 2) as the examples train them, against torch/model_twins.py; the library
              side runs in this process, PyTorch in between its rounds
              [--only resnet18|i3d] [--batch N (with --only)] [--threads N (default: one per core)]
              [--rounds 2] [--steps 5] [--warmup 2]
Common: [--python ${DEFAULT_PYTHON}] [--torch torch/torch_twin.py] [--json]
CG-MNIST runs (all but --models): [--widths 16,32,64,128] channels of the four conv blocks on
              both sides (colored-mnist's reduced default settings train 8,16,32,64)
Needs PyTorch for that Python (Debian: apt-get install -y python3-torch python3-torchvision).`;

export type CompareKind = 'rounds' | 'scaling' | 'breakdown' | 'models';

export interface CompareOptions {
  kind: CompareKind;
  python: string;
  /** torch_twin.py (the CG-MNIST twin; --models always uses torch/model_twins.py). */
  torchTwin: string;
  json: boolean;
  rounds: number;
  /** rounds and breakdown: the batch (default 128); models: the batch of the one model chosen by --only (else each model's default). */
  batch: number | undefined;
  stock: boolean;
  batches: number[];
  /** scaling and breakdown: every thread count to time; models: one entry, both sides' thread count (default one per core). */
  threads: number[];
  /** Timed steps per run (per round for --models); undefined: each kind's default. */
  steps: number | undefined;
  warmup: number;
  models: ModelName[];
  /** CG-MNIST runs: the conv widths on both sides; undefined: the scripts' default (the full widths). */
  widths: Widths | undefined;
  /** breakdown: profiled steps per bench:step run. */
  profileSteps: number;
}

export class CompareUsageError extends Error {}

const KIND_OF_OPTION: Record<string, CompareKind[]> = {
  '--rounds': ['rounds', 'models'],
  '--batch': ['rounds', 'breakdown', 'models'],
  '--no-stock': ['rounds'],
  '--batches': ['scaling'],
  '--threads': ['scaling', 'breakdown', 'models'],
  '--steps': ['scaling', 'breakdown', 'models'],
  '--warmup': ['scaling', 'breakdown', 'models'],
  '--only': ['models'],
  '--widths': ['rounds', 'scaling', 'breakdown'],
  '--profile-steps': ['breakdown'],
};

function positiveInteger(flag: string, value: string | undefined): number {
  const n = Number(value);
  if (value === undefined || !Number.isInteger(n) || n < 1) throw new CompareUsageError(`compare: ${flag} needs a positive integer, got ${value ?? 'nothing'}`);
  return n;
}

function integerList(flag: string, value: string | undefined): number[] {
  const parts = (value ?? '').split(',').filter(Boolean);
  if (parts.length === 0) throw new CompareUsageError(`compare: ${flag} needs a comma list of positive integers, e.g. 32,64`);
  return parts.map((part) => positiveInteger(flag, part));
}

export function parseCompareArgs(argv: readonly string[]): CompareOptions {
  const o: CompareOptions = {
    kind: 'rounds',
    python: DEFAULT_PYTHON,
    torchTwin: TORCH_TWIN,
    json: false,
    rounds: 2,
    batch: undefined,
    stock: true,
    batches: [32, 64, 128, 256],
    threads: [1, 2],
    steps: undefined,
    warmup: 2,
    models: [...MODEL_NAMES],
    widths: undefined,
    profileSteps: 5,
  };
  const given: string[] = [];
  let threadsGiven = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = () => argv[++i];
    given.push(arg);
    switch (arg) {
      case '--':
        break; // pnpm forwards the separator of `pnpm compare -- …`
      case '--scaling':
      case '--breakdown':
      case '--models':
        if (o.kind !== 'rounds') throw new CompareUsageError('compare: --scaling, --breakdown and --models are separate runs; give one of them');
        o.kind = arg === '--scaling' ? 'scaling' : arg === '--breakdown' ? 'breakdown' : 'models';
        break;
      case '--rounds':
        o.rounds = positiveInteger(arg, value());
        break;
      case '--batch':
        o.batch = positiveInteger(arg, value());
        break;
      case '--no-stock':
        o.stock = false;
        break;
      case '--batches':
        o.batches = integerList(arg, value());
        break;
      case '--threads':
        o.threads = integerList(arg, value());
        threadsGiven = true;
        break;
      case '--steps':
        o.steps = positiveInteger(arg, value());
        break;
      case '--warmup':
        o.warmup = positiveInteger(arg, value());
        break;
      case '--widths':
        try {
          o.widths = parseWidths(value());
        } catch (error) {
          if (!(error instanceof RangeError)) throw error;
          throw new CompareUsageError(`compare: --widths ${error.message}`);
        }
        break;
      case '--profile-steps':
        o.profileSteps = positiveInteger(arg, value());
        break;
      case '--only': {
        const name = value();
        if (!(MODEL_NAMES as readonly string[]).includes(name ?? '')) throw new CompareUsageError(`compare: --only takes one of ${MODEL_NAMES.join(', ')}, got ${name ?? 'nothing'}`);
        o.models = [name as ModelName];
        break;
      }
      case '--python': {
        const python = value();
        if (!python) throw new CompareUsageError('compare: --python needs the path of a Python interpreter with PyTorch');
        o.python = python;
        break;
      }
      case '--torch': {
        const script = value();
        if (!script) throw new CompareUsageError('compare: --torch needs the path of torch_twin.py');
        o.torchTwin = resolve(script);
        break;
      }
      case '--json':
        o.json = true;
        break;
      default:
        throw new CompareUsageError(`compare: unknown argument ${arg}`);
    }
  }
  for (const flag of given) {
    const kinds = KIND_OF_OPTION[flag];
    if (kinds && !kinds.includes(o.kind)) {
      const where = kinds.map((k) => (k === 'rounds' ? 'the default comparison' : `--${k}`)).join(' or ');
      throw new CompareUsageError(`compare: ${flag} applies to ${where} only`);
    }
  }
  if (o.kind === 'models') {
    if (threadsGiven && o.threads.length !== 1) throw new CompareUsageError(`compare --models: --threads takes one thread count for both sides, got ${o.threads.join(',')}`);
    if (!threadsGiven) o.threads = [];
  }
  if (o.kind === 'models' && o.batch !== undefined && o.models.length !== 1) {
    throw new CompareUsageError('compare --models: --batch needs --only resnet18 or --only i3d (the models have different default batches)');
  }
  return o;
}
