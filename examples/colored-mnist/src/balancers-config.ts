import { RUN_OPTIONS, type CliValues } from '@mm/example-kit';
import { BENCHMARK_METHOD_NAMES, type BenchmarkMethod } from './balancers.js';
import { defaultSettings } from './config.js';
import type { BalancerBenchmarkConfig } from './run-balancers.js';

export const BALANCERS_CLI = {
  usage: 'pnpm bench:balancers -- [options]',
  summary: `Every balancing method of @mm/balance on Colored-and-gray-MNIST at the main job's reduced scale
(same data, model family, optimizer, epochs and evaluation): the paper's methods on the MMTM net, the
others on the late-fusion (concat) net or, for MLA, the shared-head net; 3 seeds by default.`,
  options: {
    methods: { kind: 'list', value: 'LIST', of: BENCHMARK_METHOD_NAMES, help: `comma-separated subset of\n${BENCHMARK_METHOD_NAMES.join(', ')}` },
    seeds: { kind: 'int', value: 'N', min: 1, help: 'seeds 1..N per method (default 3)' },
    epochs: { kind: 'int', value: 'N', min: 1, help: 'epochs (default 3, the main job’s)' },
    'train-size': { kind: 'int', value: 'N', min: 100, help: 'training samples (default 6000, the main job’s)' },
    ...RUN_OPTIONS,
  },
  epilog: 'Outputs: results.json (methods.<name>.testAccuracy.mean, …), report.html with a bar chart, per-run checkpoints.',
} as const;

export type BalancersCliOptions = CliValues<(typeof BALANCERS_CLI)['options']>;

/** The benchmark a command line asks for: the main job's settings with the flags on top. */
export function balancerConfigFromCli(args: Partial<Pick<BalancersCliOptions, 'methods' | 'seeds' | 'epochs' | 'train-size'>>): BalancerBenchmarkConfig {
  const s = defaultSettings();
  return {
    ...s,
    epochs: args.epochs ?? s.epochs,
    trainSize: args['train-size'] ?? s.trainSize,
    methods: (args.methods as BenchmarkMethod[] | undefined) ?? BENCHMARK_METHOD_NAMES,
    seeds: Array.from({ length: args.seeds ?? 3 }, (_, i) => i + 1),
  };
}
