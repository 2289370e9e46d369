import { RUN_OPTIONS } from '@mm/example-kit/cli';
import { DEFAULT_QUEUE } from '@mm/sweep';

export const USAGE = `Usage: pnpm sweep <command> [options]   (--help after a command for its options)

Runs the reproductions' sweeps as jobs on a Redis queue that workers on any number of machines
share (BullMQ): one job per training run, retried on failure, taken over by another worker when
its worker dies, resumed from the run's last checkpoint in the shared runs directory.

Commands
  submit [colored-mnist]  queue Table 1 (or, with --sweep, §6.2) with the options of \`pnpm main\`
  submit balancers        queue the balancer benchmark with the options of \`pnpm bench:balancers\`
  submit file SPEC.json   queue { kind, meta?, runs: [{ runner, config }] } for registered runners
  worker                  take runs from the queue (one per machine; see --concurrency)
  status                  progress of each run of a sweep
  collect                 write results.json and the report of a finished sweep

Without --redis, submit runs the sweep here, one run after another, and writes the results as
the local commands do.`;

export const QUEUE = {
  redis: { kind: 'string', value: 'URL', help: 'the Redis every worker shares, e.g. redis://10.0.0.5:6379' },
  queue: { kind: 'string', value: 'NAME', help: `queue name in Redis (default ${DEFAULT_QUEUE}); submitters and workers must agree` },
} as const;

export const RUNNERS = {
  runner: { kind: 'list', value: 'NAME=MODULE,…', help: 'register your own runners too (modules that export `runner`)' },
} as const;

export const WORKER = {
  usage: 'pnpm sweep worker --redis URL --runs DIR [options]',
  summary: `Takes runs from the queue, each in a training process of its own, until stopped (Ctrl-C: finish the
current runs first; twice: stop now, other workers take the runs over from their checkpoints).`,
  options: {
    ...QUEUE,
    runs: { kind: 'string', value: 'DIR', help: 'the shared runs directory: the same files on every worker\n(NFS, a mounted bucket, or a local folder with one machine)' },
    concurrency: { kind: 'int', value: 'N', min: 1, help: 'runs at once on this machine (default 1: one wasm run already uses every core)' },
    name: { kind: 'string', value: 'NAME', help: 'shown in `status` (default <hostname>-<pid>)' },
    'lock-seconds': { kind: 'int', value: 'S', min: 1, help: 'a dead worker\'s runs are taken over after about 2×S seconds (default 30)' },
    backend: RUN_OPTIONS.backend,
    ...RUNNERS,
  },
  epilog: 'Training processes inherit the environment: MM_WASM_THREADS=N sets their wasm threads.',
} as const;

export const STATUS = {
  usage: 'pnpm sweep status --redis URL [--sweep ID | --all]',
  summary: 'The state, attempts, worker and progress of each run of a sweep (default: the one submitted last).',
  options: {
    ...QUEUE,
    sweep: { kind: 'string', value: 'ID', help: 'the sweep id that submit printed' },
    all: { kind: 'flag', help: 'list every sweep in the queue instead' },
  },
} as const;

export const COLLECT = {
  usage: 'pnpm sweep collect --redis URL --runs DIR [--out DIR] [options]',
  summary: 'Writes results.json and report.html of a finished sweep, as the local run of the same config does, and sweep.json with every run\'s config, result, worker and times.',
  options: {
    ...QUEUE,
    sweep: { kind: 'string', value: 'ID', help: 'the sweep id that submit printed (default: the one submitted last)' },
    runs: { kind: 'string', value: 'DIR', help: 'the shared runs directory (Table 1\'s figures read the per-step logs there)' },
    out: { kind: 'string', value: 'DIR', help: 'where the results go (default runs/<sweep id>)' },
    wait: { kind: 'flag', help: 'wait until the sweep has finished' },
  },
} as const;

