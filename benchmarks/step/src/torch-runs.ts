import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Running the PyTorch twins (torch/*.py) and bench:step itself as child processes, and reading
 * their results: shared by bench:step's --torch and every mode of compare.
 */

export const PACKAGE_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const TORCH_TWIN = resolve(PACKAGE_ROOT, 'torch/torch_twin.py');
export const MODEL_TWINS = resolve(PACKAGE_ROOT, 'torch/model_twins.py');
/** Debian's python3-torch installs for the system interpreter; a pyenv `python3` would not see it. */
export const DEFAULT_PYTHON = '/usr/bin/python3';

export const median = (values: readonly number[]): number => {
  if (values.length === 0) throw new Error('median of no values');
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

/** a / b to two decimals: how many times slower the library is than PyTorch when a is the library's time. */
export const ratio = (a: number, b: number): number => Number((a / b).toFixed(2));

/** The 1-minute load average, one decimal: printed with every measurement on this shared machine. */
export const loadNow = (): number => Number(loadavg()[0].toFixed(1));

/** Why `python` cannot run the twins (missing interpreter, no torch or another module they import), or undefined if it can. */
export function torchUnavailable(python: string, modules: readonly string[] = ['torch']): string | undefined {
  const probe = spawnSync(python, ['-c', `import ${modules.join(', ')}`], { encoding: 'utf8' });
  if (probe.status === 0) return undefined;
  return probe.error?.message ?? probe.stderr.trim().split('\n').pop() ?? `exit ${probe.status}`;
}

/**
 * Whether bench:step runs torch_twin.py: as --torch / --no-torch say, else for --json runs that
 * time the vanilla step when PyTorch imports (asked last: probing spawns Python).
 */
export function shouldRunTorch(o: { asked: boolean | undefined; json: boolean; timesVanilla: boolean; torchImports: () => boolean }): boolean {
  if (o.asked !== undefined) return o.asked;
  return o.json && o.timesVanilla && o.torchImports();
}

/** Throws the error a user can act on if `python` cannot import torch (and `modules`) or `script` is missing. */
export function requireTorch(python: string, script: string, who: string, modules: readonly string[] = ['torch']): void {
  if (!existsSync(script)) throw new Error(`${who}: PyTorch script not found at ${script}`);
  const why = torchUnavailable(python, modules);
  if (why !== undefined) {
    throw new Error(`${who}: ${python} cannot import ${modules.join(' and ')} (${why}). Install PyTorch (Debian: apt-get install -y python3-torch python3-torchvision) or pass --python <interpreter with torch>.`);
  }
}

export function runChecked(command: string, args: string[], who: string): string {
  const result = spawnSync(command, args, { cwd: PACKAGE_ROOT, encoding: 'utf8', maxBuffer: 1 << 26 });
  if (result.status !== 0) {
    throw new Error(`${who}: ${command} ${args.join(' ')} failed (exit ${result.status ?? result.signal}):\n${result.stderr}`);
  }
  return result.stdout;
}

export interface TwinResult {
  medianStepMs: number;
  /** CPU time per step, all threads (NaN from a twin that does not print it). */
  medianCpuMs: number;
  /** Trainable parameters of the PyTorch network, to compare with the library's. */
  parameterCount: number;
  threads: number;
  batch: number;
}

/**
 * Reads a twin's report: a line with `threads=… batch=… params=…`, one with `step ms: median …`
 * and one with `cpu ms per step (all threads): median …` (torch_twin.py and model_twins.py
 * print all three).
 */
export function parseTwinOutput(output: string, who: string): TwinResult {
  const field = (pattern: RegExp, what: string) => {
    const match = pattern.exec(output);
    if (!match) throw new Error(`${who}: the PyTorch twin printed no ${what}; its output was:\n${output}`);
    return Number(match[1]);
  };
  const cpu = /cpu ms per step \(all threads\): median ([\d.]+)/.exec(output);
  return {
    medianStepMs: field(/step ms: median ([\d.]+)/, 'median step time'),
    medianCpuMs: cpu ? Number(cpu[1]) : NaN,
    parameterCount: field(/\bparams=(\d+)/, 'parameter count'),
    threads: field(/\bthreads=(\d+)/, 'thread count'),
    batch: field(/\bbatch=(\d+)/, 'batch size'),
  };
}

export interface TwinRun {
  python: string;
  script: string;
  /** The script's own options (--batch, --threads, --steps, --model, …). */
  args: string[];
}

export function runTwin(run: TwinRun, who: string): TwinResult {
  return parseTwinOutput(runChecked(run.python, [run.script, ...run.args], who), who);
}

/**
 * PyTorch's CPU time per step (all threads): the twin runs in-process under a wrapper that
 * prints the process's total CPU time, once with 5 and once with 35 timed steps; the difference
 * over 30 steps cancels start-up, import and warm-up.
 */
export function twinCpuMsPerStep(run: TwinRun, who: string): number {
  const cpu = (steps: number) => {
    const wrapper = [
      'import resource, runpy, sys',
      `sys.argv = ${JSON.stringify([run.script, ...run.args, '--steps', String(steps)])}`,
      `runpy.run_path(${JSON.stringify(run.script)}, run_name='__main__')`,
      'r = resource.getrusage(resource.RUSAGE_SELF)',
      "print('cpu_seconds', r.ru_utime + r.ru_stime)",
    ].join('\n');
    const out = runChecked(run.python, ['-c', wrapper], who);
    const match = /cpu_seconds ([\d.]+)/.exec(out);
    if (!match) throw new Error(`${who}: no CPU time from the torch wrapper:\n${out}`);
    return Number(match[1]) * 1000;
  };
  return (cpu(35) - cpu(5)) / 30;
}

/** What bench:step --json reports that the comparisons read. */
export interface BenchStepReport {
  medianStepMs: number;
  medianCpuMs: number;
  threads: number;
  batch: number;
  parameterCount: number;
  /** With its per-kernel profile (null without): kernels per name, medians over the profiled steps. */
  kernels?: { name: string; calls: number; totalMs: number }[] | null;
  kernelCallsPerStep?: number | null;
  kernelMs?: number | null;
  profiledStepMs?: number | null;
  outsideKernelsMs?: number | null;
  timedOutsideKernelsMs?: number | null;
}

export function parseBenchStepReport(output: string, who: string): BenchStepReport {
  const last = output.trim().split('\n').pop() ?? '';
  let report: Partial<BenchStepReport>;
  try {
    report = JSON.parse(last) as Partial<BenchStepReport>;
  } catch {
    throw new Error(`${who}: bench:step's last line is not JSON:\n${output}`);
  }
  for (const key of ['medianStepMs', 'threads', 'batch', 'parameterCount'] as const) {
    if (typeof report[key] !== 'number') throw new Error(`${who}: bench:step printed no ${key}:\n${output}`);
  }
  return { ...(report as BenchStepReport), medianCpuMs: report.medianCpuMs ?? NaN };
}

/**
 * bench:step's vanilla mode (the library's BalancedTrainer.step) in a fresh process, without the
 * PyTorch runs; with its per-kernel profile over `profileSteps` steps after the timed ones, if given.
 */
export function runBenchStep(options: { batch: number; steps: number; warmup: number; profileSteps?: number; extra?: string[] }, who: string): BenchStepReport {
  const args = ['--conditions=@mm/source', '--import', 'tsx', 'src/main.ts', '--batch', String(options.batch), '--modes', 'vanilla'];
  const profile = options.profileSteps === undefined ? ['--no-profile'] : ['--profile-steps', String(options.profileSteps)];
  args.push('--steps', String(options.steps), '--warmup', String(options.warmup), ...profile, '--no-torch', '--json', ...(options.extra ?? []));
  return parseBenchStepReport(runChecked(process.execPath, args, who), who);
}
