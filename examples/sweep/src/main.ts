#!/usr/bin/env node
import { runCli, UsageError } from '@mm/example-kit/cli';
import { collectSweep, formatStatus, listSweeps, startWorker, sweepStatus } from '@mm/sweep';
import { COLLECT, STATUS, USAGE, WORKER } from './cli.js';
import { registryWith } from './registry.js';

const argv = process.argv.slice(2);
if (argv[0] === '--') argv.shift();
const [command, ...rest] = argv;

const needRedis = (redis: string | undefined, what: string): string => {
  if (!redis) throw new UsageError(`${what} needs --redis URL (the Redis the workers share)`);
  return redis;
};

// The experiments' code (tfjs and all) is loaded only by the commands that use it, so that
// `status` answers quickly.
switch (command) {
  case 'submit':
    await (await import('./submit.js')).submitCommand(rest, USAGE);
    break;
  case 'worker':
    await runCli(
      WORKER,
      async (args) => {
        if (!args.runs) throw new UsageError('worker needs --runs DIR: the runs directory every worker shares (checkpoints and results go there)');
        const worker = await startWorker({
          redis: needRedis(args.redis, 'worker'),
          queue: args.queue,
          registry: registryWith(args.runner),
          runsDir: args.runs,
          concurrency: args.concurrency,
          name: args.name,
          lockSeconds: args['lock-seconds'],
          env: args.backend ? { MM_BACKEND: args.backend } : {},
          log: (line) => console.log(line),
        });
        // Runs until a signal: the first lets the current runs finish, the second stops now.
        await new Promise<void>((resolve) => {
          let stopping = false;
          const stop = (signal: string) => {
            if (stopping) {
              console.log(`${worker.name}: ${signal} again, stopping now; other workers take its runs over from their checkpoints`);
              process.exit(130);
            }
            stopping = true;
            console.log(`${worker.name}: ${signal}, finishing the current runs (${signal} again to stop now)`);
            void worker.close().then(resolve);
          };
          process.on('SIGINT', () => stop('SIGINT'));
          process.on('SIGTERM', () => stop('SIGTERM'));
        });
      },
      rest,
    );
    break;
  case 'status':
    await runCli(
      STATUS,
      async (args) => {
        const redis = needRedis(args.redis, 'status');
        if (args.all) {
          const sweeps = await listSweeps({ redis, queue: args.queue });
          if (sweeps.length === 0) console.log('no sweeps');
          for (const s of sweeps) console.log(`${s.id}  ${s.kind}  ${s.state}  ${s.runs} runs  submitted ${new Date(s.submittedAt).toISOString()}`);
          return;
        }
        console.log(formatStatus(await sweepStatus({ redis, queue: args.queue, sweep: args.sweep })));
      },
      rest,
    );
    break;
  case 'collect':
    await runCli(
      COLLECT,
      async (args) => {
        const collected = await collectSweep({
          redis: needRedis(args.redis, 'collect'),
          queue: args.queue,
          sweep: args.sweep,
          wait: args.wait,
          onWait: (finished, total) => console.error(`waiting: ${finished}/${total} runs finished`),
        });
        await (await import('./commands.js')).collectInto(collected, { out: args.out, runsDir: args.runs });
      },
      rest,
    );
    break;
  case undefined:
  case '--help':
  case '-h':
    console.log(USAGE);
    break;
  default:
    console.error(`error: unknown command '${command}'\n\n${USAGE}`);
    process.exitCode = 2;
}
