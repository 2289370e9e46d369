import { experimentMain, runCli } from '@mm/example-kit';
import { CLI, configFromCli } from './config.js';
import { run } from './run.js';

await runCli(CLI, async (args) => {
  await experimentMain({ args, name: 'nvgesture', config: () => configFromCli(args), run });
});
