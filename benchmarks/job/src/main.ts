import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { defaultMnistDir } from '@mm/datasets/colored-mnist';
import { CLI, configFromCli } from '@mm/example-colored-mnist/config';
import { tableRuns } from '@mm/example-colored-mnist/run';
import { parseCli } from '@mm/example-kit';
import { exampleArgs, JobBenchUsageError, parseJobBenchArgs, USAGE, type JobBenchOptions } from './options.js';
import { formatReport, summarize, type Round } from './report.js';
import { requireTorch } from '@mm/bench-step/torch-runs';
import { runJsJob, runTorchJob, startBusyCore, stopBusyCore, TORCH_JOB } from './sides.js';

function options(): JobBenchOptions {
  try {
    return parseJobBenchArgs(process.argv.slice(2));
  } catch (error) {
    if (!(error instanceof JobBenchUsageError)) throw error;
    console.error(`bench:job: ${error.message}\n\n${USAGE}`);
    process.exit(2);
  }
}

const o = options();
if (o.help) {
  console.log(USAGE);
  process.exit(0);
}
try {
  requireTorch(o.python, TORCH_JOB, 'bench:job', ['torch', 'numpy']);
} catch (error) {
  console.error((error as Error).message);
  process.exit(1);
}
const args = exampleArgs(o);
// The settings the JS side will run, from the example's own command line: the torch side gets the same.
const settings = configFromCli(parseCli(CLI, args).values);
const plan = tableRuns(settings);
const mnistDir = defaultMnistDir();
const root = o.keep ? resolve(o.keep) : mkdtempSync(join(tmpdir(), 'bench-job-'));
mkdirSync(root, { recursive: true });

let busy: ChildProcess | undefined;
const stopBusy = () => stopBusyCore(busy);
process.on('exit', stopBusy);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    stopBusy();
    process.exit(130);
  });
}

const title = `Colored-and-gray-MNIST reduced Table-1 job, whole (${plan.length} runs: ${settings.plan.map((p) => `${p.method}×${p.seeds.length}`).join(', ')}; ${settings.trainSize} training samples, ${settings.epochs} epochs, batch ${settings.batchSize}, widths ${settings.widths.join('/')}), ${o.rounds} round(s), seconds spawn to exit`;
console.error(title);
const rounds: Round[] = [];
try {
  if (o.contend) busy = startBusyCore();
  for (let r = 1; r <= o.rounds; r++) {
    const order: ('js' | 'torch')[] = r % 2 === 1 ? ['js', 'torch'] : ['torch', 'js'];
    const timed: Partial<Record<'js' | 'torch', Round['js']>> = {};
    for (const side of order) {
      const out = join(root, `round${r}-${side}`);
      console.error(`round ${r}/${o.rounds}: ${side} job (load ${loadavg()[0].toFixed(1)}${o.contend ? ', one core busy' : ''})`);
      timed[side] = side === 'js' ? await runJsJob(args, out) : await runTorchJob({ python: o.python, threads: o.torchThreads, mnistDir, settings, out });
      console.error(`round ${r}/${o.rounds}: ${side} job ${timed[side]!.wallSeconds.toFixed(1)} s (start-up ${timed[side]!.startupSeconds.toFixed(1)} s, load ${timed[side]!.load.mean.toFixed(1)})`);
      if (!o.keep) rmSync(out, { recursive: true, force: true });
    }
    rounds.push({ round: r, order, busyCore: o.contend, js: timed.js!, torch: timed.torch! });
    // Each finished round in full, so a run cut short still leaves its measurements.
    console.error(`round ${r} record: ${JSON.stringify(rounds.at(-1))}`);
  }
} finally {
  stopBusy();
  if (!o.keep) rmSync(root, { recursive: true, force: true });
}

if (o.json) console.log(JSON.stringify({ title, settings: { ...settings, plan }, torchThreads: o.torchThreads, cores: availableParallelism(), summary: summarize(rounds), rounds }));
else console.log(formatReport(rounds, title));
