import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { dirname, resolve } from 'node:path';

/**
 * Side-by-side timing against PyTorch: alternates torch/torch_twin.py and bench:step's vanilla
 * mode (the library's BalancedTrainer.step; fast wasm on all cores and on one thread, stock
 * wasm) for a few rounds and prints each round's medians and ratios plus the load average,
 * because on a shared machine only ratios measured in the same window mean anything. It also
 * compares CPU time per step (all threads), which other jobs on the machine distort much less
 * than wall time (PyTorch's two threads suffer most from them).
 *
 *   pnpm --filter @mm/bench-step compare [--rounds 2] [--batch 128] [--torch torch/torch_twin.py]
 *                                        [--python /usr/bin/python3] [--no-stock] [--json]
 *
 * Needs PyTorch for that Python (Debian: apt-get install -y python3-torch).
 */

const here = dirname(fileURLToPath(import.meta.url));
const packageRoot = resolve(here, '..');

interface Options {
  rounds: number;
  batch: number;
  torch: string;
  python: string;
  stock: boolean;
  json: boolean;
}

function parseArgs(argv: string[]): Options {
  const o: Options = {
    rounds: 2,
    batch: 128,
    torch: resolve(packageRoot, 'torch/torch_twin.py'),
    // Debian's python3-torch installs for the system interpreter; a pyenv `python3` would not see it.
    python: '/usr/bin/python3',
    stock: true,
    json: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`compare: ${arg} needs a value`);
      return v;
    };
    if (arg === '--rounds') o.rounds = Number(value());
    else if (arg === '--batch') o.batch = Number(value());
    else if (arg === '--torch') o.torch = resolve(value());
    else if (arg === '--python') o.python = value();
    else if (arg === '--no-stock') o.stock = false;
    else if (arg === '--json') o.json = true;
    else throw new Error(`compare: unknown argument ${arg}`);
  }
  if (!existsSync(o.torch)) {
    throw new Error(`compare: torch twin not found at ${o.torch}; pass --torch <path to torch_twin.py>`);
  }
  const probe = spawnSync(o.python, ['-c', 'import torch'], { encoding: 'utf8' });
  if (probe.status !== 0) {
    const why = probe.error?.message ?? probe.stderr.trim().split('\n').pop();
    throw new Error(`compare: ${o.python} cannot import torch (${why}). Install PyTorch (Debian: apt-get install -y python3-torch) or pass --python <interpreter with torch>.`);
  }
  return o;
}

function run(command: string, args: string[], cwd: string): string {
  const result = spawnSync(command, args, { cwd, encoding: 'utf8', maxBuffer: 1 << 26 });
  if (result.status !== 0) {
    throw new Error(`compare: ${command} ${args.join(' ')} failed (exit ${result.status}):\n${result.stderr}`);
  }
  return result.stdout;
}

function torchMedian(o: Options): number {
  const out = run(o.python, [o.torch, '--batch', String(o.batch), '--steps', '30', '--mode', 'vanilla'], packageRoot);
  const match = /median ([\d.]+)/.exec(out);
  if (!match) throw new Error(`compare: could not read the median from torch_twin.py output:\n${out}`);
  return Number(match[1]);
}

/**
 * PyTorch's CPU time per step (all threads): torch_twin.py is run in-process by a wrapper that
 * prints the process's total CPU time, once with 5 and once with 35 timed steps; the difference
 * over 30 steps cancels start-up, import and warm-up.
 */
function torchCpuPerStep(o: Options): number {
  const cpu = (steps: number) => {
    const wrapper = [
      'import resource, runpy, sys',
      `sys.argv = [${JSON.stringify(o.torch)}, '--batch', '${o.batch}', '--steps', '${steps}', '--mode', 'vanilla']`,
      `runpy.run_path(${JSON.stringify(o.torch)}, run_name='__main__')`,
      'r = resource.getrusage(resource.RUSAGE_SELF)',
      "print('cpu_seconds', r.ru_utime + r.ru_stime)",
    ].join('\n');
    const out = run(o.python, ['-c', wrapper], packageRoot);
    const match = /cpu_seconds ([\d.]+)/.exec(out);
    if (!match) throw new Error(`compare: no CPU time from the torch wrapper:\n${out}`);
    return Number(match[1]) * 1000;
  };
  return (cpu(35) - cpu(5)) / 30;
}

// What each side times, for the report: bench:step's vanilla mode is the library's trainer step.
const TIMED = {
  torch: 'torch_twin.py --mode vanilla (forward, backward, learning-speed terms, SGD momentum)',
  tfjs: 'bench:step --modes vanilla: BalancedTrainer.step (@mm/balance), learning-speed bookkeeping on',
};

function benchMedian(o: Options, extra: string[]): { wall: number; cpu: number } {
  const args = ['--conditions=@mm/source', '--import', 'tsx', 'src/main.ts', '--batch', String(o.batch)];
  const out = run(process.execPath, [...args, '--modes', 'vanilla', '--steps', '20', '--warmup', '3', '--no-profile', '--json', ...extra], packageRoot);
  const report = JSON.parse(out.trim().split('\n').pop() ?? '{}') as { medianStepMs?: number; medianCpuMs?: number };
  if (typeof report.medianStepMs !== 'number') throw new Error(`compare: bench:step printed no medianStepMs:\n${out}`);
  return { wall: report.medianStepMs, cpu: report.medianCpuMs ?? NaN };
}

const load = () => loadavg()[0].toFixed(1);
const options = parseArgs(process.argv.slice(2));
const rounds: Record<string, number | string>[] = [];
for (let r = 1; r <= options.rounds; r++) {
  const round: Record<string, number | string> = { round: r };
  console.error(`round ${r}/${options.rounds}: torch_twin.py (load ${load()})`);
  round.torchMs = torchMedian(options);
  console.error(`round ${r}/${options.rounds}: torch_twin.py CPU time (load ${load()})`);
  round.torchCpuMs = Number(torchCpuPerStep(options).toFixed(1));
  console.error(`round ${r}/${options.rounds}: bench:step fast wasm, all cores (load ${load()})`);
  const fast = benchMedian(options, []);
  round.tfjsMs = fast.wall;
  round.tfjsCpuMs = fast.cpu;
  console.error(`round ${r}/${options.rounds}: bench:step fast wasm, 1 thread (load ${load()})`);
  const single = benchMedian(options, ['--threads', '1']);
  round.tfjs1ThreadMs = single.wall;
  if (options.stock) {
    console.error(`round ${r}/${options.rounds}: bench:step stock wasm (load ${load()})`);
    const stock = benchMedian(options, ['--stock']);
    round.stockMs = stock.wall;
    round.stockCpuMs = stock.cpu;
  }
  round.loadAfter = load();
  const ratio = (a: unknown, b: unknown) => Number(((a as number) / (b as number)).toFixed(2));
  round.tfjsOverTorch = ratio(round.tfjsMs, round.torchMs);
  round.tfjs1ThreadOverTorch = ratio(round.tfjs1ThreadMs, round.torchMs);
  round.tfjsCpuOverTorchCpu = ratio(round.tfjsCpuMs, round.torchCpuMs);
  if (round.stockMs) {
    round.stockOverTfjs = ratio(round.stockMs, round.tfjsMs);
    round.stockCpuOverTfjsCpu = ratio(round.stockCpuMs, round.tfjsCpuMs);
  }
  rounds.push(round);
  console.error(JSON.stringify(round));
}
if (options.json) console.log(JSON.stringify({ batch: options.batch, timed: TIMED, rounds }));
else {
  console.log(`batch ${options.batch}; medians of the vanilla step in ms, ratios within each round:`);
  console.log(`  torch: ${TIMED.torch}\n  tfjs:  ${TIMED.tfjs}`);
  for (const r of rounds) console.log(Object.entries(r).map(([k, v]) => `${k} ${v}`).join('  '));
}
