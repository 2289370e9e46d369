import { BALANCERS_CLI } from '@mm/example-colored-mnist/balancers-config';
import { CLI as COLORED_MNIST_CLI } from '@mm/example-colored-mnist/config';
import { RUN_OPTIONS } from '@mm/example-kit/cli';
import { QUEUE, RUNNERS } from './cli.js';

const SUBMIT = {
  ...QUEUE,
  ...RUNNERS,
  runs: { kind: 'string', value: 'DIR', help: 'without --redis: the runs\' folders (default <out>/runs)' },
  attempts: { kind: 'int', value: 'N', min: 1, help: 'attempts per run before it fails (default 3)' },
  'retry-delay': { kind: 'number', value: 'S', min: 0, help: 'seconds before the first retry, doubling after each (default 10)' },
  out: RUN_OPTIONS.out,
  backend: RUN_OPTIONS.backend,
  quiet: RUN_OPTIONS.quiet,
} as const;

// The experiment's own options; --out, --backend and --quiet come back with their sweep meanings, --resume has none.
const withoutRunOptions = <O extends { resume: unknown; out: unknown; backend: unknown; quiet: unknown }>({ resume: _r, out: _o, backend: _b, quiet: _q, ...rest }: O) => rest;

export const SUBMIT_COLORED_MNIST = {
  usage: 'pnpm sweep submit [colored-mnist] [options]',
  summary: `Queues the Colored-and-gray-MNIST reproduction as one job per (method, seed): the same options,
defaults and results as \`pnpm main\` (Table 1; --sweep for §6.2).`,
  options: { ...withoutRunOptions(COLORED_MNIST_CLI.options), ...SUBMIT },
} as const;

export const SUBMIT_BALANCERS = {
  usage: 'pnpm sweep submit balancers [options]',
  summary: 'Queues the balancer benchmark as one job per (method, seed), UMT after its uni-modal teachers: the same options and results as `pnpm bench:balancers`.',
  options: { ...withoutRunOptions(BALANCERS_CLI.options), ...SUBMIT },
} as const;

export const SUBMIT_FILE = {
  usage: 'pnpm sweep submit file SPEC.json [options]',
  summary: 'Queues the sweep described in SPEC.json: { "kind": "my-sweep", "meta": …, "runs": [{ "runner": "NAME", "config": … }, …] }.',
  options: SUBMIT,
} as const;

