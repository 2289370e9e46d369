import { COMPARE_USAGE, CompareUsageError, parseCompareArgs, type CompareOptions } from './compare-args.js';
import { formatTable } from './table.js';
import { sideBySideKernels } from './breakdown.js';
import {
  loadNow,
  median,
  MODEL_TWINS,
  ratio,
  requireTorch,
  runBenchStep,
  runTwin,
  twinCpuMsPerStep,
  type BenchStepReport,
  type TwinResult,
  type TwinRun,
} from './torch-runs.js';

/**
 * Side-by-side timing against PyTorch (see COMPARE_USAGE): the library's training step
 * (BalancedTrainer.step of @mm/balance) alternated with its PyTorch twin, medians and ratios
 * printed with the load average, because on a shared machine only ratios measured in the same
 * window mean anything. The default comparison also reports CPU time per step (all threads),
 * which other jobs distort much less than wall time.
 */

const progress = (message: string) => console.error(message);
const WHO = 'compare';

const CG_MNIST_TIMED = {
  torch: 'torch_twin.py --mode vanilla (forward, backward, learning-speed terms, SGD momentum)',
  tfjs: 'bench:step --modes vanilla: BalancedTrainer.step (@mm/balance), learning-speed bookkeeping on',
};

/** --widths for torch_twin.py and bench:step alike (both take the same option), or nothing for their default. */
const widthsArgs = (o: CompareOptions): string[] => (o.widths ? ['--widths', o.widths.join(',')] : []);
const widthsLabel = (o: CompareOptions) => (o.widths ? o.widths.join('/') : 'full (16/32/64/128)');

/** Both sides must have built the same network: equal trainable parameters, or the timings compare different work. */
function requireSameNetwork(tfjs: BenchStepReport, torch: TwinResult): void {
  if (tfjs.parameterCount !== torch.parameterCount) {
    throw new Error(`${WHO}: bench:step's network has ${tfjs.parameterCount} trainable parameters, torch_twin.py's ${torch.parameterCount}: the twins are different networks (check --widths)`);
  }
}

function cgMnistTwin(o: CompareOptions, batch: number, threads: number | undefined, steps: number | undefined, warmup: number | undefined): TwinRun {
  const args = ['--mode', 'vanilla', '--batch', String(batch), ...widthsArgs(o)];
  if (threads !== undefined) args.push('--threads', String(threads));
  if (steps !== undefined) args.push('--steps', String(steps));
  if (warmup !== undefined) args.push('--warmup', String(warmup));
  return { python: o.python, script: o.torchTwin, args };
}

/** The default comparison: a few rounds of PyTorch, its CPU time, and bench:step on fast wasm (all cores, 1 thread) and stock wasm. */
function compareRounds(o: CompareOptions): void {
  const batch = o.batch ?? 128;
  const rounds: Record<string, number>[] = [];
  const library = (extra: string[]) => runBenchStep({ batch, steps: 20, warmup: 3, extra: [...widthsArgs(o), ...extra] }, WHO);
  for (let r = 1; r <= o.rounds; r++) {
    const round: Record<string, number> = { round: r, loadBefore: loadNow() };
    progress(`round ${r}/${o.rounds}: torch_twin.py (load ${loadNow()})`);
    round.torchMs = runTwin(cgMnistTwin(o, batch, undefined, 30, undefined), WHO).medianStepMs;
    progress(`round ${r}/${o.rounds}: torch_twin.py CPU time (load ${loadNow()})`);
    round.torchCpuMs = Number(twinCpuMsPerStep(cgMnistTwin(o, batch, undefined, undefined, undefined), WHO).toFixed(1));
    progress(`round ${r}/${o.rounds}: bench:step fast wasm, all cores (load ${loadNow()})`);
    const fast = library([]);
    round.tfjsMs = fast.medianStepMs;
    round.tfjsCpuMs = fast.medianCpuMs;
    progress(`round ${r}/${o.rounds}: bench:step fast wasm, 1 thread (load ${loadNow()})`);
    round.tfjs1ThreadMs = library(['--threads', '1']).medianStepMs;
    if (o.stock) {
      progress(`round ${r}/${o.rounds}: bench:step stock wasm (load ${loadNow()})`);
      const stock = library(['--stock']);
      round.stockMs = stock.medianStepMs;
      round.stockCpuMs = stock.medianCpuMs;
    }
    round.loadAfter = loadNow();
    round.tfjsOverTorch = ratio(round.tfjsMs, round.torchMs);
    round.tfjs1ThreadOverTorch = ratio(round.tfjs1ThreadMs, round.torchMs);
    round.tfjsCpuOverTorchCpu = ratio(round.tfjsCpuMs, round.torchCpuMs);
    if (o.stock) {
      round.stockOverTfjs = ratio(round.stockMs, round.tfjsMs);
      round.stockCpuOverTfjsCpu = ratio(round.stockCpuMs, round.tfjsCpuMs);
    }
    rounds.push(round);
    progress(JSON.stringify(round));
  }
  if (o.json) {
    console.log(JSON.stringify({ batch, timed: CG_MNIST_TIMED, rounds }));
    return;
  }
  console.log(`batch ${batch}; medians of the vanilla step in ms, ratios within each round:`);
  console.log(`  torch: ${CG_MNIST_TIMED.torch}\n  tfjs:  ${CG_MNIST_TIMED.tfjs}`);
  for (const r of rounds) console.log(Object.entries(r).map(([k, v]) => `${k} ${v}`).join('  '));
}

/** --scaling: every thread count × batch, PyTorch then the library, each in a fresh process. */
function compareScaling(o: CompareOptions): void {
  const steps = o.steps ?? 10;
  const rows: Record<string, number>[] = [];
  for (const threads of o.threads) {
    for (const batch of o.batches) {
      const loadBefore = loadNow();
      progress(`threads ${threads}, batch ${batch}: torch_twin.py (load ${loadBefore})`);
      const torch = runTwin(cgMnistTwin(o, batch, threads, steps, o.warmup), WHO);
      progress(`threads ${threads}, batch ${batch}: bench:step (load ${loadNow()})`);
      const tfjs = runBenchStep({ batch, steps, warmup: o.warmup, extra: ['--threads', String(threads), ...widthsArgs(o)] }, WHO);
      if (tfjs.threads !== threads || torch.threads !== threads) {
        throw new Error(`compare --scaling: asked for ${threads} thread(s), the library ran ${tfjs.threads} and PyTorch ${torch.threads}`);
      }
      requireSameNetwork(tfjs, torch);
      const row = {
        threads,
        batch,
        torchMs: torch.medianStepMs,
        tfjsMs: tfjs.medianStepMs,
        tfjsOverTorch: ratio(tfjs.medianStepMs, torch.medianStepMs),
        torchCpuMs: torch.medianCpuMs,
        tfjsCpuMs: tfjs.medianCpuMs,
        tfjsCpuOverTorchCpu: ratio(tfjs.medianCpuMs, torch.medianCpuMs),
        loadBefore,
        loadAfter: loadNow(),
      };
      rows.push(row);
      progress(JSON.stringify(row));
    }
  }
  if (o.json) {
    console.log(JSON.stringify({ timed: CG_MNIST_TIMED, widths: o.widths ?? null, steps, warmup: o.warmup, rows }));
    return;
  }
  console.log(`CG-MNIST MMTM net, widths ${widthsLabel(o)}, vanilla step: medians of ${steps} steps (after ${o.warmup} warm-up) in ms, wall and CPU (all threads); each row's two runs back to back`);
  console.log(`  torch: ${CG_MNIST_TIMED.torch}\n  tfjs:  ${CG_MNIST_TIMED.tfjs}`);
  console.log(
    formatTable(
      ['threads', 'batch', 'torch ms', 'tfjs ms', 'tfjs/torch', 'torch cpu', 'tfjs cpu', 'cpu ratio', 'load before', 'load after'],
      rows.map((r) => [r.threads, r.batch, r.torchMs, r.tfjsMs, r.tfjsOverTorch, r.torchCpuMs, r.tfjsCpuMs, r.tfjsCpuOverTorchCpu, r.loadBefore, r.loadAfter]),
    ),
  );
}

/** Kernels printed one per row by --breakdown; the rest share a row. */
const BREAKDOWN_TOP_KERNELS = 20;

/** --breakdown: per thread count, torch_twin.py then bench:step with its per-kernel profile, each in a fresh process. */
function compareBreakdown(o: CompareOptions): void {
  const batch = o.batch ?? 128;
  const steps = o.steps ?? 10;
  const runs = [];
  for (const threads of o.threads) {
    const loadBefore = loadNow();
    progress(`threads ${threads}, batch ${batch}, widths ${widthsLabel(o)}: torch_twin.py (load ${loadBefore})`);
    const torch = runTwin(cgMnistTwin(o, batch, threads, steps, o.warmup), WHO);
    progress(`threads ${threads}, batch ${batch}: bench:step with ${o.profileSteps} profiled steps (load ${loadNow()})`);
    const tfjs = runBenchStep({ batch, steps, warmup: o.warmup, profileSteps: o.profileSteps, extra: ['--threads', String(threads), ...widthsArgs(o)] }, WHO);
    if (tfjs.threads !== threads || torch.threads !== threads) {
      throw new Error(`compare --breakdown: asked for ${threads} thread(s), the library ran ${tfjs.threads} and PyTorch ${torch.threads}`);
    }
    requireSameNetwork(tfjs, torch);
    if (!tfjs.kernels || tfjs.kernelMs == null || tfjs.outsideKernelsMs == null || tfjs.profiledStepMs == null) {
      throw new Error('compare --breakdown: bench:step reported no per-kernel profile');
    }
    const run = {
      threads,
      batch,
      torchMs: torch.medianStepMs,
      tfjsMs: tfjs.medianStepMs,
      tfjsOverTorch: ratio(tfjs.medianStepMs, torch.medianStepMs),
      kernelCalls: tfjs.kernelCallsPerStep ?? null,
      profiledStepMs: tfjs.profiledStepMs,
      kernelMs: tfjs.kernelMs,
      outsideKernelsMs: tfjs.outsideKernelsMs,
      timedOutsideKernelsMs: tfjs.timedOutsideKernelsMs ?? null,
      loadBefore,
      loadAfter: loadNow(),
      kernels: tfjs.kernels,
    };
    runs.push(run);
    const { kernels: _kernels, ...summary } = run;
    progress(JSON.stringify(summary));
  }
  if (o.json) {
    console.log(JSON.stringify({ timed: CG_MNIST_TIMED, widths: o.widths ?? null, batch, steps, warmup: o.warmup, profileSteps: o.profileSteps, runs }));
    return;
  }
  console.log(`CG-MNIST MMTM net, widths ${widthsLabel(o)}, batch ${batch}, vanilla step: medians of ${steps} timed steps (after ${o.warmup} warm-up), then ${o.profileSteps} profiled steps`);
  console.log(`  torch: ${CG_MNIST_TIMED.torch}\n  tfjs:  ${CG_MNIST_TIMED.tfjs}`);
  console.log('  outside kernels: profiled wall − Σ kernel ms (JS, tfjs dispatch, profiler bookkeeping); timed − Σ kernel: the timed median − Σ kernel ms, without the profiler');
  console.log(
    formatTable(
      ['threads', 'torch ms', 'tfjs ms', 'tfjs/torch', 'kernel calls', 'profiled ms', 'Σ kernel ms', 'outside kernels', 'timed − Σ kernel', 'load before', 'load after'],
      runs.map((r) => [r.threads, r.torchMs, r.tfjsMs, r.tfjsOverTorch, r.kernelCalls, r.profiledStepMs, r.kernelMs, r.outsideKernelsMs, r.timedOutsideKernelsMs, r.loadBefore, r.loadAfter]),
    ),
  );
  const table = sideBySideKernels(runs.map((r) => ({ threads: r.threads, kernels: r.kernels, outsideKernelsMs: r.outsideKernelsMs })), BREAKDOWN_TOP_KERNELS);
  console.log(`\nms per step by kernel (medians over the profiled steps), slowest at ${runs[runs.length - 1].threads} thread(s) first:`);
  console.log(formatTable(table.headers, table.rows));
}

/** Trainable parameters of the library's model and its twin must be equal: anything else means different networks. */
export const PARAMETER_TOLERANCE = 0;

/** --models: the library steps in this process; PyTorch runs between its rounds. */
async function compareModels(o: CompareOptions): Promise<void> {
  const tf = await import('@tensorflow/tfjs-core');
  await import('@tensorflow/tfjs-layers');
  const { initBackend, wasmThreadsInUse } = await import('@mm/backend');
  const { createModelStepRunner, MODEL_BENCHES } = await import('./model-steps.js');
  const backend = await initBackend({ backend: 'wasm', log: false, threads: o.threads[0] });
  const threads = backend === 'wasm' ? wasmThreadsInUse() : 1;
  if (o.threads.length > 0 && threads !== o.threads[0]) throw new Error(`compare --models: asked for ${o.threads[0]} thread(s), the ${backend} backend runs ${threads}`);
  const steps = o.steps ?? 5;
  const reports = [];
  for (const name of o.models) {
    const bench = MODEL_BENCHES[name];
    const batch = o.batch ?? bench.defaultBatch;
    progress(`${name}: building ${bench.description}, batch ${batch} (load ${loadNow()})`);
    const runner = createModelStepRunner(name, batch);
    const twin: TwinRun = { python: o.python, script: MODEL_TWINS, args: ['--model', name, '--batch', String(batch), '--threads', String(threads), '--steps', String(steps), '--warmup', String(o.warmup)] };
    for (let i = 0; i < o.warmup; i++) runner.step();
    const tensorsBefore = tf.memory().numTensors;
    const rounds = [];
    let torchParameters = NaN;
    for (let r = 1; r <= o.rounds; r++) {
      const loadBefore = loadNow();
      progress(`${name} round ${r}/${o.rounds}: model_twins.py (load ${loadBefore})`);
      const torch = runTwin(twin, WHO);
      torchParameters = torch.parameterCount;
      progress(`${name} round ${r}/${o.rounds}: BalancedTrainer.step ×${steps} (load ${loadNow()})`);
      const times: number[] = [];
      const cpuTimes: number[] = [];
      let loss = NaN;
      for (let s = 0; s < steps; s++) {
        const started = performance.now();
        const cpuBefore = process.cpuUsage();
        loss = runner.step();
        times.push(performance.now() - started);
        const cpu = process.cpuUsage(cpuBefore);
        cpuTimes.push((cpu.user + cpu.system) / 1000);
      }
      if (!Number.isFinite(loss)) throw new Error(`compare --models: ${name} produced a non-finite loss (${loss})`);
      const tfjsMs = Number(median(times).toFixed(1));
      const tfjsCpuMs = Number(median(cpuTimes).toFixed(1));
      const round = {
        round: r,
        torchMs: torch.medianStepMs,
        tfjsMs,
        tfjsOverTorch: ratio(tfjsMs, torch.medianStepMs),
        torchCpuMs: torch.medianCpuMs,
        tfjsCpuMs,
        tfjsCpuOverTorchCpu: ratio(tfjsCpuMs, torch.medianCpuMs),
        loadBefore,
        loadAfter: loadNow(),
      };
      rounds.push(round);
      progress(JSON.stringify(round));
    }
    const leaked = tf.memory().numTensors - tensorsBefore;
    if (leaked !== 0) throw new Error(`compare --models: ${name}'s steps leaked ${leaked} tensors`);
    const parameters = { library: runner.parameterCount, torch: torchParameters, tolerance: PARAMETER_TOLERANCE };
    runner.dispose();
    if (Math.abs(parameters.library - parameters.torch) > PARAMETER_TOLERANCE) {
      throw new Error(`compare --models: ${name} has ${parameters.library} trainable parameters in the library and ${parameters.torch} in model_twins.py (tolerance ${PARAMETER_TOLERANCE}): the twins are different networks`);
    }
    reports.push({ model: name, description: bench.description, optimizer: bench.optimizerLabel, batch, threads, steps, warmup: o.warmup, parameters, rounds });
  }
  if (o.json) {
    console.log(JSON.stringify({ timed: { tfjs: 'BalancedTrainer.step (@mm/balance), vanilla scheduler, learning-speed bookkeeping on', torch: 'torch/model_twins.py' }, models: reports }));
    return;
  }
  console.log(`medians of ${steps} training steps per round in ms, wall and CPU (all threads), after ${o.warmup} warm-up; ${threads} thread${threads > 1 ? 's' : ''} on each side;`);
  console.log('tfjs: BalancedTrainer.step (@mm/balance), vanilla scheduler with the learning-speed bookkeeping; torch: torch/model_twins.py');
  console.log('batches chosen so that one step takes seconds on two shared cores, not minutes');
  for (const m of reports) {
    console.log(`\n${m.model}: ${m.description}; ${m.optimizer}; batch ${m.batch}`);
    console.log(`trainable parameters: library ${m.parameters.library.toLocaleString('en-US')}, PyTorch ${m.parameters.torch.toLocaleString('en-US')} (must match within ${m.parameters.tolerance})`);
    const columns = ['round', 'torch ms', 'tfjs ms', 'tfjs/torch', 'torch cpu', 'tfjs cpu', 'cpu ratio', 'load before', 'load after'];
    console.log(formatTable(columns, m.rounds.map((r) => [r.round, r.torchMs, r.tfjsMs, r.tfjsOverTorch, r.torchCpuMs, r.tfjsCpuMs, r.tfjsCpuOverTorchCpu, r.loadBefore, r.loadAfter])));
  }
}

async function main(): Promise<void> {
  let options: CompareOptions;
  try {
    options = parseCompareArgs(process.argv.slice(2));
  } catch (error) {
    if (!(error instanceof CompareUsageError)) throw error;
    console.error(`${error.message}\n\n${COMPARE_USAGE}`);
    process.exit(2);
  }
  requireTorch(options.python, options.kind === 'models' ? MODEL_TWINS : options.torchTwin, WHO);
  if (options.kind === 'rounds') compareRounds(options);
  else if (options.kind === 'scaling') compareScaling(options);
  else if (options.kind === 'breakdown') compareBreakdown(options);
  else await compareModels(options);
}

await main();
