#!/usr/bin/env node
import { initBackend } from '@mm/backend';
import { createProgressPrinter, openRunDir, RUN_OPTIONS, runCli } from '@mm/example-kit';
import { join } from 'node:path';
import { BENCHMARK_METHOD_NAMES, type BenchmarkMethod } from './balancers.js';
import { defaultSettings } from './config.js';
import { runBalancerBenchmark, type BalancerBenchmarkConfig } from './run-balancers.js';

const CLI = {
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

await runCli(CLI, async (args) => {
  const { dir, config, resumed } = openRunDir<BalancerBenchmarkConfig>({
    out: args.out,
    resume: args.resume,
    name: 'balancers',
    config: () => {
      const s = defaultSettings();
      return {
        ...s,
        epochs: args.epochs ?? s.epochs,
        trainSize: args['train-size'] ?? s.trainSize,
        methods: (args.methods as BenchmarkMethod[] | undefined) ?? BENCHMARK_METHOD_NAMES,
        seeds: Array.from({ length: args.seeds ?? 3 }, (_, i) => i + 1),
      };
    },
  });
  if (resumed) console.error(`resuming ${dir}`);
  const backend = await initBackend({ backend: args.backend });
  const progress = createProgressPrinter({ quiet: args.quiet });
  const log = (line: string) => {
    progress.end();
    console.error(line);
  };
  const results = await runBalancerBenchmark(config, { dir, backend, progress: progress.update, log });
  progress.end();
  console.log(`\nBalancers on Colored-and-gray-MNIST (${config.trainSize} training samples, ${config.epochs} epochs, seeds ${config.seeds.join(',')}, backend ${backend}, ${results.wallSeconds.toFixed(0)} s)\n`);
  console.log(results.table);
  console.log(`\nresults: ${join(dir, 'results.json')}\nreport:  ${join(dir, 'report.html')}`);
});
