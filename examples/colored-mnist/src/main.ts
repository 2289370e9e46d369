#!/usr/bin/env node
import { initBackend } from '@mm/backend';
import { createProgressPrinter, openRunDir, runCli } from '@mm/example-kit';
import { join } from 'node:path';
import { CLI, configFromCli } from './config.js';
import { run } from './run.js';

await runCli(CLI, async (args) => {
  const { dir, config, resumed } = openRunDir({ out: args.out, resume: args.resume, name: 'colored-mnist', config: () => configFromCli(args) });
  if (resumed) console.error(`resuming ${dir}`);
  const backend = await initBackend({ backend: args.backend });
  const progress = createProgressPrinter({ quiet: args.quiet });
  const results = await run(config, {
    dir,
    backend,
    progress: progress.update,
    log: (line) => {
      progress.end();
      console.error(line);
    },
  });
  progress.end();
  if (results.mode === 'table') console.log(`\nColored-and-gray-MNIST, test accuracy on the low-correlation split (${config.trainSize} training samples, backend ${backend}, ${results.wallSeconds.toFixed(0)} s)\n`);
  console.log(results.table);
  console.log(`\n${results.mode === 'table' ? `results: ${join(dir, 'results.json')}\n` : ''}report:  ${join(dir, 'report.html')}`);
});
