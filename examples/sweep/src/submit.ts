import { balancerConfigFromCli } from '@mm/example-colored-mnist/balancers-config';
import { configFromCli } from '@mm/example-colored-mnist/config';
import { balancerSweep, coloredMnistSweep } from '@mm/example-colored-mnist/sweeps';
import { readJson, runCli, UsageError } from '@mm/example-kit';
import { planSweep, submitSweep, type SweepSpec } from '@mm/sweep';
import { runHere } from './commands.js';
import { registryWith } from './registry.js';
import { SUBMIT_BALANCERS, SUBMIT_COLORED_MNIST, SUBMIT_FILE } from './submit-cli.js';

interface SubmitArgs {
  redis?: string;
  queue?: string;
  runner?: string[];
  runs?: string;
  out?: string;
  backend?: string;
  quiet: boolean;
  attempts?: number;
  'retry-delay'?: number;
}

/** Queues the sweep on --redis, or without it runs it here. */
async function submit(spec: SweepSpec, args: SubmitArgs): Promise<void> {
  const registry = registryWith(args.runner);
  const plan = await planSweep(registry, spec);
  if (!args.redis) {
    await runHere(registry, plan, args);
    return;
  }
  const report = await submitSweep(plan, { redis: args.redis, queue: args.queue, attempts: args.attempts, backoffSeconds: args['retry-delay'] });
  const what = report.alreadyFinished
    ? 'had already finished: nothing to run'
    : report.inProgress
      ? 'is already queued and running: nothing changed'
      : `queued ${report.queued} run${report.queued === 1 ? '' : 's'}${report.finished ? `, ${report.finished} finished before (reused)` : ''}${report.attached ? `, ${report.attached} already queued` : ''}`;
  const queue = args.queue ? ` --queue ${args.queue}` : '';
  console.log(`sweep ${report.sweep} (${plan.kind}, ${report.runs} runs) ${what}`);
  console.log(`follow it:  pnpm sweep status --redis ${args.redis}${queue} --sweep ${report.sweep}`);
  console.log(`results:    pnpm sweep collect --redis ${args.redis}${queue} --sweep ${report.sweep} --runs DIR --wait`);
}

/** `submit [colored-mnist | balancers | file SPEC.json] [options]`. */
export async function submitCommand(argv: string[], usage: string): Promise<void> {
  const rest = [...argv];
  const experiment = rest[0] && !rest[0].startsWith('-') ? rest.shift()! : 'colored-mnist';
  switch (experiment) {
    case 'colored-mnist':
      return runCli(SUBMIT_COLORED_MNIST, (args) => submit(coloredMnistSweep(configFromCli(args)), args), rest);
    case 'balancers':
      return runCli(SUBMIT_BALANCERS, (args) => submit(balancerSweep(balancerConfigFromCli(args)), args), rest);
    case 'file': {
      const file = rest[0] && !rest[0].startsWith('-') ? rest.shift()! : undefined;
      return runCli(
        SUBMIT_FILE,
        async (args) => {
          if (!file) throw new UsageError('submit file needs the path of a sweep spec: pnpm sweep submit file SPEC.json');
          await submit(readJson<SweepSpec>(file), args);
        },
        rest,
      );
    }
    default:
      console.error(`error: unknown experiment '${experiment}'; submit takes colored-mnist (default), balancers or file SPEC.json\n\n${usage}`);
      process.exitCode = 2;
  }
}
