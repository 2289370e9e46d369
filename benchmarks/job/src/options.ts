import { METHODS, type Method } from '@mm/example-colored-mnist/config';

export const USAGE = `Usage: pnpm bench:job [--rounds 2] [--methods LIST] [--seeds N] [--contend] [--torch-threads N]
                      [--python /usr/bin/python3] [--keep DIR] [--json]

Times the whole reduced Table-1 job of the Colored-and-gray-MNIST example against a PyTorch
script of the same job (benchmarks/job/torch/cg_mnist_job.py), interleaved: each round runs both,
one after the other, the order alternating between rounds. Each side is a fresh process, timed
from spawn to exit; start-up (spawn to ready: interpreter, imports, backend) is also reported apart.
  JS side      examples/colored-mnist's run(config, hooks) with the default (reduced) settings,
               as \`pnpm main\` runs it: data generation, training, evaluation, metrics, outputs
  torch side   the same data recipe, network, schedule, methods and evaluation in PyTorch (CPU)
Options:
  --rounds N         rounds (default 2)
  --methods LIST     comma-separated subset of ${METHODS.join(', ')}
                     (default: all of them, the example's default plan)
  --seeds N          every method over seeds 1..N (default: the example's plan, 3 seeds of
                     vanilla and guided, 1 of the others)
  --contend          run a busy loop (one core) during both sides, to see how the ratio moves
                     when the cores are shared
  --torch-threads N  PyTorch threads (default: PyTorch's own choice, what a user of the script
                     gets, printed in the report; the wasm backend takes one thread per core)
  --python PATH      interpreter with torch and numpy (default /usr/bin/python3)
  --keep DIR         keep each side's output folders under DIR (default: temporary, removed)
  --json             print one JSON object on stdout (progress goes to stderr)
  --help             this text`;

export interface JobBenchOptions {
  rounds: number;
  /** Undefined: the example's default plan. */
  methods: Method[] | undefined;
  seeds: number | undefined;
  contend: boolean;
  /** Undefined: PyTorch's default. */
  torchThreads: number | undefined;
  python: string;
  keep: string | undefined;
  json: boolean;
  help: boolean;
}

/** A bad command line: the message names the option and what was wrong. */
export class JobBenchUsageError extends Error {
  override name = 'JobBenchUsageError';
}

export function parseJobBenchArgs(argv: readonly string[]): JobBenchOptions {
  const o: JobBenchOptions = { rounds: 2, methods: undefined, seeds: undefined, contend: false, torchThreads: undefined, python: '/usr/bin/python3', keep: undefined, json: false, help: false };
  const args = argv[0] === '--' ? argv.slice(1) : argv;
  for (let i = 0; i < args.length; i++) {
    const flag = args[i];
    const value = () => {
      const v = args[++i];
      if (v === undefined || v.startsWith('--')) throw new JobBenchUsageError(`${flag} needs a value`);
      return v;
    };
    const integer = (min: number) => {
      const text = value();
      const n = Number(text);
      if (!Number.isInteger(n) || n < min) throw new JobBenchUsageError(`${flag} needs an integer ≥ ${min}, got ${text}`);
      return n;
    };
    switch (flag) {
      case '--rounds':
        o.rounds = integer(1);
        break;
      case '--seeds':
        o.seeds = integer(1);
        break;
      case '--torch-threads':
        o.torchThreads = integer(1);
        break;
      case '--methods': {
        const methods = value().split(',').filter(Boolean);
        const unknown = methods.filter((m) => !(METHODS as readonly string[]).includes(m));
        if (unknown.length > 0 || methods.length === 0) throw new JobBenchUsageError(`--methods: unknown method ${unknown.join(', ') || '(none given)'}; choose from ${METHODS.join(', ')}`);
        o.methods = [...new Set(methods)] as Method[];
        break;
      }
      case '--contend':
        o.contend = true;
        break;
      case '--python':
        o.python = value();
        break;
      case '--keep':
        o.keep = value();
        break;
      case '--json':
        o.json = true;
        break;
      case '--help':
      case '-h':
        o.help = true;
        break;
      default:
        throw new JobBenchUsageError(`unknown argument ${flag}`);
    }
  }
  return o;
}

/** The example's own command-line flags for this choice of methods and seeds (what `pnpm main -- …` would be given). */
export function exampleArgs(o: Pick<JobBenchOptions, 'methods' | 'seeds'>): string[] {
  return [...(o.methods ? ['--methods', o.methods.join(',')] : []), ...(o.seeds !== undefined ? ['--seeds', String(o.seeds)] : [])];
}
