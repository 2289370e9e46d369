#!/usr/bin/env node
import { initBackend } from '@mm/backend';
import { createProgressPrinter, openRunDir, runCli } from '@mm/example-kit';
import { join } from 'node:path';
import { BALANCERS_CLI, balancerConfigFromCli } from './balancers-config.js';
import { runBalancerBenchmark, type BalancerBenchmarkConfig } from './run-balancers.js';

await runCli(BALANCERS_CLI, async (args) => {
  const { dir, config, resumed } = openRunDir<BalancerBenchmarkConfig>({
    out: args.out,
    resume: args.resume,
    name: 'balancers',
    config: () => balancerConfigFromCli(args),
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
