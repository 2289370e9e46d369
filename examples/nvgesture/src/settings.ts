import { NVGESTURE_DOWNLOAD_HINT } from '@mm/datasets/nvgesture';

export type Method = 'vanilla' | 'random' | 'guided' | 'unimodal';

export interface RunSettings {
  data: string;
  out: string;
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
  concurrency: number;
  skipBad: boolean;
  resume: boolean;
  logEvery: number;
}

export class UsageError extends Error {}

export const USAGE = `Usage: pnpm --filter @mm/example-nvgesture start -- --data DIR [options]

Trains the paper's NVGesture network (two I3D branches, RGB and depth, MMTM in Mixed_4c…Mixed_5c)
and reports validation/test accuracy and the conditional utilization rate.

  --data DIR            NVGesture root (with Video_data/ and the *_cvpr2016_v2.lst files)
  --out DIR             results, checkpoints, report (default runs/nvgesture-<method>)
  --method M            vanilla | random | guided | unimodal (default guided)
  --modality M          rgb | depth, for --method unimodal (default rgb)
  --pretrained FILE     Kinetics InceptionI3d state dict (.safetensors) for both branches
                        (the depth stem averages the RGB filters over the input channels)
  --frames N            frames per clip (paper 64)           --size N      crop side (paper 224)
  --batch-size N        (paper 4)    --lr X (paper 0.01)     --momentum X  (paper 0.9)
  --alpha X             guided imbalance tolerance (paper 0.1)   --window Q (paper 5)
  --epochs N            (default 30)  --limit N  use the first N samples of each list
  --seed N  --gate-scale X (MMTM gate = X·σ, default 2)  --concurrency N (clips decoded at once)
  --skip-bad            skip unreadable samples (counted in results.json) instead of stopping
  --resume              continue from the latest checkpoint in --out
  --log-every N         progress line every N steps (default 10)

CPU-scale example: --frames 8 --size 64 --limit 40 --epochs 3`;

function numberArg(name: string, value: string | undefined, integer: boolean, min: number): number {
  if (value === undefined) throw new UsageError(`${name} needs a value`);
  const n = Number(value);
  if (!Number.isFinite(n) || (integer && !Number.isInteger(n)) || n < min) {
    throw new UsageError(`${name} must be ${integer ? 'an integer' : 'a number'} ≥ ${min}, got ${value}`);
  }
  return n;
}

export function parseArgs(argv: readonly string[]): RunSettings {
  const s: Omit<RunSettings, 'data' | 'out'> & { data: string | null; out: string | null } = {
    data: null,
    out: null,
    method: 'guided',
    modality: 'rgb',
    pretrained: null,
    frames: 64,
    size: 224,
    batchSize: 4,
    learningRate: 0.01,
    momentum: 0.9,
    alpha: 0.1,
    windowSize: 5,
    epochs: 30,
    limit: null,
    seed: 0,
    gateScale: 2,
    concurrency: 2,
    skipBad: false,
    resume: false,
    logEvery: 10,
  };
  const args = [...argv];
  while (args.length > 0) {
    const flag = args.shift() as string;
    const value = () => args.shift();
    switch (flag) {
      case '--':
        break;
      case '--data':
        s.data = value() ?? null;
        break;
      case '--out':
        s.out = value() ?? null;
        break;
      case '--method': {
        const m = value();
        if (m !== 'vanilla' && m !== 'random' && m !== 'guided' && m !== 'unimodal') throw new UsageError(`--method must be vanilla, random, guided or unimodal, got ${m}`);
        s.method = m;
        break;
      }
      case '--modality': {
        const m = value();
        if (m !== 'rgb' && m !== 'depth') throw new UsageError(`--modality must be rgb or depth, got ${m}`);
        s.modality = m;
        break;
      }
      case '--pretrained':
        s.pretrained = value() ?? null;
        break;
      case '--frames':
        s.frames = numberArg(flag, value(), true, 1);
        break;
      case '--size':
        s.size = numberArg(flag, value(), true, 32);
        break;
      case '--batch-size':
        s.batchSize = numberArg(flag, value(), true, 1);
        break;
      case '--lr':
        s.learningRate = numberArg(flag, value(), false, 0);
        break;
      case '--momentum':
        s.momentum = numberArg(flag, value(), false, 0);
        break;
      case '--alpha':
        s.alpha = numberArg(flag, value(), false, 0);
        break;
      case '--window':
        s.windowSize = numberArg(flag, value(), true, 1);
        break;
      case '--epochs':
        s.epochs = numberArg(flag, value(), true, 1);
        break;
      case '--limit':
        s.limit = numberArg(flag, value(), true, 1);
        break;
      case '--seed':
        s.seed = numberArg(flag, value(), true, 0);
        break;
      case '--gate-scale':
        s.gateScale = numberArg(flag, value(), false, 0);
        break;
      case '--concurrency':
        s.concurrency = numberArg(flag, value(), true, 1);
        break;
      case '--log-every':
        s.logEvery = numberArg(flag, value(), true, 1);
        break;
      case '--skip-bad':
        s.skipBad = true;
        break;
      case '--resume':
        s.resume = true;
        break;
      case '--help':
      case '-h':
        throw new UsageError('');
      default:
        throw new UsageError(`unknown option ${flag}`);
    }
  }
  if (!s.data) throw new UsageError(`--data DIR is required.\n${NVGESTURE_DOWNLOAD_HINT}`);
  return { ...s, data: s.data, out: s.out ?? `runs/nvgesture-${s.method}${s.method === 'unimodal' ? `-${s.modality}` : ''}` };
}

/** Resize side for a crop side, keeping the paper's 256 → 224 ratio. */
export const resizeFor = (crop: number) => Math.round((crop * 256) / 224);
