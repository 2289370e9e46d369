import { spawn, type ChildProcess } from 'node:child_process';
import { loadavg } from 'node:os';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ExperimentSettings } from '@mm/example-colored-mnist/config';
import { tableRuns } from '@mm/example-colored-mnist/run';
import { parseJobReport, type JobReport, type JobRun, type SideTiming } from './report.js';

const packageRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const TORCH_JOB = resolve(packageRoot, 'torch/cg_mnist_job.py');
const JS_JOB = resolve(packageRoot, 'src/js-job.ts');

const load = () => loadavg()[0];
/** Seconds between load samples while a side runs. */
const LOAD_SAMPLE_SECONDS = 5;

/** Runs one job process, timing it from spawn to exit and sampling the load average meanwhile. */
async function timeProcess(command: string, args: string[], who: string): Promise<SideTiming> {
  const before = load();
  const samples: number[] = [];
  const sampler = setInterval(() => samples.push(load()), LOAD_SAMPLE_SECONDS * 1000);
  const spawnedAt = Date.now();
  const started = performance.now();
  let stdout = '';
  let stderrTail = '';
  try {
    const child = spawn(command, args, { cwd: packageRoot, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => {
      const text = chunk.toString();
      process.stderr.write(text.replace(/^(?=.)/gm, `  [${who}] `));
      stderrTail = (stderrTail + text).slice(-4000);
    });
    const code = await new Promise<number | null>((resolvePromise, reject) => {
      child.on('error', reject);
      child.on('close', resolvePromise);
    });
    if (code !== 0) throw new Error(`bench:job: ${who} failed (exit ${code}): ${command} ${args.join(' ')}\n${stderrTail}`);
  } finally {
    clearInterval(sampler);
  }
  const wallSeconds = (performance.now() - started) / 1000;
  const report: JobReport = parseJobReport(stdout, who);
  const after = load();
  const all = [before, ...samples, after];
  return {
    ...report,
    runs: report.runs.map(trimRun),
    wallSeconds,
    startupSeconds: (report.jobStartedAtMs - spawnedAt) / 1000,
    load: { before, after, mean: all.reduce((a, b) => a + b, 0) / all.length },
  };
}

const trimRun = (r: JobRun): JobRun => ({ method: r.method, seed: r.seed, testAccuracy: r.testAccuracy, testHeadAccuracy: r.testHeadAccuracy, dUtil: r.dUtil ?? null, dSpeed: r.dSpeed ?? null, seconds: r.seconds });

/** The example's job in a fresh Node process, with the example's own command-line flags. */
export function runJsJob(exampleArgs: string[], out: string): Promise<SideTiming> {
  return timeProcess(process.execPath, ['--conditions=@mm/source', '--import', 'tsx', JS_JOB, ...exampleArgs, '--out', out], 'js');
}

/** The PyTorch job with the example's settings and plan. */
export function runTorchJob(o: { python: string; threads: number | undefined; mnistDir: string; settings: ExperimentSettings; out: string }): Promise<SideTiming> {
  return timeProcess(o.python, [TORCH_JOB, ...torchJobArgs(o.settings), '--mnist-dir', o.mnistDir, ...(o.threads ? ['--threads', String(o.threads)] : []), '--out', o.out], 'torch');
}

/** The PyTorch job's flags for the example's settings (its defaults are only documentation). */
export function torchJobArgs(s: ExperimentSettings): string[] {
  if (s.pair[0] !== 'colored' || s.pair[1] !== 'gray') throw new Error(`bench:job: the PyTorch job fuses (colored, gray), the settings ask for (${s.pair.join(', ')})`);
  if ((s.testColoring ?? 'class-means') !== 'class-means') throw new Error(`bench:job: the PyTorch job colors test samples with class means, the settings ask for ${s.testColoring}`);
  if (s.stopAtTrainAccuracy !== undefined) throw new Error('bench:job: the PyTorch job has no stopping rule; time the reduced preset (no stopAtTrainAccuracy)');
  const flags: [string, number | string | undefined][] = [
    ['--runs', tableRuns(s).map((r) => `${r.method}:${r.seed}`).join(',')],
    ['--train-size', s.trainSize],
    // 0: all of them (the settings leave these unset for "all").
    ['--test-size', s.testSize ?? 0],
    ['--validation-fraction', s.validationFraction],
    ['--variance', s.variance],
    ['--data-seed', s.dataSeed],
    ['--batch', s.batchSize],
    ['--lr', s.learningRate],
    ['--momentum', s.momentum],
    ['--epochs', s.epochs],
    ['--train-accuracy-samples', s.trainAccuracySamples],
    ['--squeeze-samples', s.squeezeRecordingSamples ?? 0],
    ['--alpha', s.alpha],
    ['--window', s.windowSize],
    ['--log-base', s.logBase],
    ['--gate-scale', s.gateScale],
    ['--widths', s.widths.join(',')],
  ];
  return flags.flatMap(([flag, value]) => (value === undefined ? [] : [flag, String(value)]));
}

/** A busy loop on one core for as long as it runs (--contend); stop it with `stopBusyCore`. */
export function startBusyCore(): ChildProcess {
  return spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' });
}

export function stopBusyCore(busy: ChildProcess | undefined): void {
  if (busy && busy.exitCode === null && busy.signalCode === null) busy.kill('SIGKILL');
}
