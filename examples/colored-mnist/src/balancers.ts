import { teacherFromModel, Umt, type Balancer } from '@mm/balance';
import { lateFusionBalancer, loadBestWeights, type LateFusionMethod } from '@mm/example-kit';
import { cgMnistFusedNet, cgMnistUnimodalNet, type CgMnistFusion } from '@mm/models';
import type { Method, RunSettings } from './config.js';
import { paperRunSpec } from './paper.js';
import type { RunSpec } from './train-one.js';

/**
 * The balancer benchmark's methods: the paper's (on the MMTM net) and the field's (on the late
 * fusion net they are defined for: one head on the concatenated features, or one shared head for
 * MLA), each with its library defaults, on the same data, optimizer, epochs and evaluation.
 */
export const BENCHMARK_METHODS = {
  'unimodal-colored': { fusion: 'unimodal', what: 'the colored image alone' },
  'unimodal-gray': { fusion: 'unimodal', what: 'the gray image alone' },
  vanilla: { fusion: 'mmtm', what: 'MMTM net, no balancing (Table 1)' },
  guided: { fusion: 'mmtm', what: 'MMTM net, guided re-balancing (Wu et al. 2022)' },
  random: { fusion: 'mmtm', what: 'MMTM net, random re-balancing (Wu et al. 2022)' },
  rubi: { fusion: 'mmtm', what: 'MMTM net, RUBi loss (Cadene et al. 2019)' },
  'vanilla-concat': { fusion: 'concat', what: 'concat net, no balancing' },
  'ogm-ge': { fusion: 'concat', what: 'OGM-GE (Peng et al. 2022)' },
  agm: { fusion: 'concat', what: 'AGM (Li et al. 2023)' },
  pmr: { fusion: 'concat', what: 'PMR (Fan et al. 2023)' },
  mmpareto: { fusion: 'concat', what: 'MMPareto (Wei & Hu 2024), auxiliary heads' },
  'gradient-blending': { fusion: 'concat', what: 'Gradient Blending (Wang et al. 2020), auxiliary heads, 10% held out' },
  umt: { fusion: 'concat', what: 'UMT (Du et al. 2023), the uni-modal runs as teachers' },
  ume: { fusion: 'concat', what: 'UME (Du et al. 2023), auxiliary heads' },
  'modality-dropout': { fusion: 'concat', what: 'modality dropout, p = 0.3' },
  mla: { fusion: 'shared-head', what: 'MLA (Zhang et al. 2024), shared head' },
} as const satisfies Record<string, { fusion: CgMnistFusion | 'unimodal'; what: string }>;

export type BenchmarkMethod = keyof typeof BENCHMARK_METHODS;
export const BENCHMARK_METHOD_NAMES = Object.keys(BENCHMARK_METHODS) as BenchmarkMethod[];
const PAPER: readonly string[] = ['unimodal-colored', 'unimodal-gray', 'vanilla', 'guided', 'random', 'rubi'];

/** The folder of a run of the benchmark (teachers for UMT are read from the uni-modal runs'). */
export const runFolder = (method: string, seed: number) => `${method}-seed${seed}`;

export interface BenchmarkContext {
  settings: RunSettings;
  /** The folder of this benchmark's run of a method and seed (UMT reads its teachers' weights there). */
  runDir: (method: BenchmarkMethod, seed: number) => string;
}

function lateBalancer(method: BenchmarkMethod, seed: number, ctx: BenchmarkContext, made: { dispose(): void }[]): Balancer {
  if (method !== 'umt') return lateFusionBalancer(method as LateFusionMethod, seed);
  // The teachers are this seed's uni-modal runs (their best-validation weights), in inference mode.
  const teachers = (['unimodal-colored', 'unimodal-gray'] as const).map((m, k) => {
    const model = cgMnistUnimodalNet({ widths: ctx.settings.widths, gateScale: ctx.settings.gateScale, modality: k as 0 | 1, seed });
    made.push(model);
    loadBestWeights(ctx.runDir(m, seed), model);
    return teacherFromModel(model, 'm0_gap');
  });
  return new Umt({ teachers });
}

/** The run of one benchmark method and seed. */
export function benchmarkRunSpec(method: BenchmarkMethod, seed: number, ctx: BenchmarkContext): RunSpec {
  if (PAPER.includes(method)) return paperRunSpec(method as Method, seed, ctx.settings);
  const fusion = BENCHMARK_METHODS[method].fusion as CgMnistFusion;
  const made: { dispose(): void }[] = [];
  return {
    method,
    seed,
    modalities: [...ctx.settings.pair],
    model: () => cgMnistFusedNet({ widths: ctx.settings.widths, gateScale: ctx.settings.gateScale, seed, fusion }),
    balancer: () => lateBalancer(method, seed, ctx, made),
    heldOutFraction: method === 'gradient-blending' ? 0.1 : undefined,
    release: () => made.splice(0).forEach((m) => m.dispose()),
  };
}

/** UMT learns from the uni-modal runs: they must come first. */
export function withPrerequisites(methods: readonly BenchmarkMethod[]): BenchmarkMethod[] {
  const needed = new Set(methods);
  if (needed.has('umt')) {
    needed.add('unimodal-colored');
    needed.add('unimodal-gray');
  }
  return BENCHMARK_METHOD_NAMES.filter((m) => needed.has(m));
}
