import { loadavg } from 'node:os';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-layers';
import { initBackend, registerWasmTrainingKernels, wasmThreadsInUse, type BackendChoice } from '@mm/backend';
import { createStepRunner, MODE_DESCRIPTIONS, MODES, type Mode, type StepRunner } from './step.js';
import { measureDataPipeline, type DataPipelineReport } from './data.js';
import { combineProfiledSteps, summarizeProfile, type ProfiledStep, type StepBreakdown } from './profile.js';
import { parseWidths, WIDTHS, type Widths } from './network.js';
import { DEFAULT_PYTHON, loadNow, median, ratio, requireTorch, runTwin, shouldRunTorch, TORCH_TWIN, torchUnavailable, type TwinResult } from './torch-runs.js';

const USAGE = `Usage: pnpm bench:step [--batch 128] [--steps 20] [--warmup 3] [--modes vanilla,plain,rebalance,unimodal]
                       [--widths 16,32,64,128] [--backend wasm|cpu] [--threads N] [--stock]
                       [--profile-steps 1 | --no-profile] [--data] [--json]
                       [--torch | --no-torch] [--python /usr/bin/python3]

Times full training steps of the CG-MNIST MMTM network (the twin of benchmarks/step/torch/torch_twin.py)
through the library's BalancedTrainer.step (@mm/balance) and prints the median per mode:
  vanilla       BalancedTrainer.step, vanilla scheduler, learning-speed bookkeeping on
  plain         tf.variableGrads + optimizer.applyGradients, no bookkeeping (the baseline of
                the bookkeeping overhead, vanilla ÷ plain − 1 over back-to-back pairs)
  rebalance     BalancedTrainer.step, every timed step re-balances modality 0
  unimodal      BalancedTrainer.step, the net without MMTM, learningSpeed: false
Options:
  --stock       stock tfjs-backend-wasm plus only the minimal Conv2DBackpropFilter
                (no @mm/backend fast kernels), the "vs stock" baseline
  --threads N   wasm threads (XNNPACK and @mm/backend's kernels on a thread pool; default:
                MM_WASM_THREADS, else one per core); 1 = tfjs's single-threaded build. wasm
                threads replaced the earlier data-parallel --workers mode, which they beat
  --warmup N    untimed steps per mode first (≥ 1: the first step creates the optimizer's slots)
  --widths A,B,C,D  channels of the four conv blocks (default ${WIDTHS.join(',')}; colored-mnist's
                reduced default settings train 8,16,32,64); passed on to torch_twin.py
  --profile-steps N  profiled steps after the timed ones (default 1): the per-kernel breakdown
                gives medians over them, with the time outside kernels (wall − Σ kernel ms)
  --data        also time the CG-MNIST data pipeline (shuffled batches → tensors), samples/s
  --no-profile  skip the per-kernel breakdown (the extra profiled steps)
  --json        print one JSON object on stdout (progress goes to stderr)
  --torch       also run torch/torch_twin.py (vanilla, same batch, steps and thread count)
                before, halfway through and after the library's timed steps (a single timed
                step: before and after), and report the vanilla step's
                ratio to PyTorch's median: both measured in this run, under the same load.
                On by default with --json when the Python interpreter can import torch
  --no-torch    never run PyTorch
  --python P    the interpreter with PyTorch (default ${DEFAULT_PYTHON})`;

interface Options {
  batch: number;
  steps: number;
  warmup: number;
  modes: Mode[];
  widths: Widths;
  backend: BackendChoice;
  threads: number | undefined;
  stock: boolean;
  profile: boolean;
  profileSteps: number;
  data: boolean;
  json: boolean;
  /** undefined: decided after parsing (on for --json when torch imports). */
  torch: boolean | undefined;
  python: string;
}

function fail(message: string): never {
  console.error(`bench:step: ${message}\n\n${USAGE}`);
  process.exit(2);
}

function parseArgs(argv: string[]): Options {
  const options: Options = {
    batch: 128,
    steps: 20,
    warmup: 3,
    modes: [...MODES],
    widths: WIDTHS,
    backend: 'wasm',
    threads: undefined,
    stock: false,
    profile: true,
    profileSteps: 1,
    data: false,
    json: false,
    torch: undefined,
    python: DEFAULT_PYTHON,
  };
  const positiveInt = (flag: string, value: string | undefined, min: number): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min) fail(`${flag} needs an integer ≥ ${min}, got ${value ?? 'nothing'}`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    switch (arg) {
      case '--batch':
        options.batch = positiveInt(arg, argv[++i], 1);
        break;
      case '--steps':
        options.steps = positiveInt(arg, argv[++i], 1);
        break;
      case '--warmup':
        options.warmup = positiveInt(arg, argv[++i], 1);
        break;
      case '--modes': {
        const modes = (argv[++i] ?? '').split(',').filter(Boolean);
        const unknown = modes.filter((m) => !(MODES as readonly string[]).includes(m));
        if (modes.length === 0 || unknown.length > 0) fail(`--modes takes a comma list of ${MODES.join(', ')}; got ${argv[i] ?? 'nothing'}`);
        options.modes = modes as Mode[];
        break;
      }
      case '--widths':
        try {
          options.widths = parseWidths(argv[++i]);
        } catch (error) {
          fail(`--widths ${(error as Error).message}`);
        }
        break;
      case '--profile-steps':
        options.profileSteps = positiveInt(arg, argv[++i], 1);
        break;
      case '--backend': {
        const backend = argv[++i];
        if (backend !== 'wasm' && backend !== 'cpu') fail(`--backend must be wasm or cpu, got ${backend ?? 'nothing'}`);
        options.backend = backend;
        break;
      }
      case '--threads':
        options.threads = positiveInt(arg, argv[++i], 1);
        break;
      case '--workers':
        fail('--workers (data-parallel replicas) was removed: the wasm backend runs on all cores by itself, and faster; see --threads');
      case '--stock':
        options.stock = true;
        break;
      case '--no-profile':
        options.profile = false;
        break;
      case '--data':
        options.data = true;
        break;
      case '--json':
        options.json = true;
        break;
      case '--torch':
        options.torch = true;
        break;
      case '--no-torch':
        options.torch = false;
        break;
      case '--python': {
        const python = argv[++i];
        if (!python) fail('--python needs the path of a Python interpreter with PyTorch');
        options.python = python;
        break;
      }
      case '--':
        // pnpm forwards the separator of `pnpm bench:step -- …`.
        break;
      case '--help':
      case '-h':
        console.log(USAGE);
        process.exit(0);
      // falls through (process.exit never returns)
      default:
        fail(`unknown argument ${arg}`);
    }
  }
  if (options.stock && options.backend !== 'wasm') fail('--stock only makes sense with --backend wasm');
  if (options.threads !== undefined && (options.backend !== 'wasm' || options.stock)) fail('--threads needs the fast wasm backend');
  if (options.torch && !options.modes.includes('vanilla')) fail('--torch compares the vanilla step: include vanilla in --modes');
  return options;
}

function resolveTorch(options: Options): boolean {
  return shouldRunTorch({
    asked: options.torch,
    json: options.json,
    timesVanilla: options.modes.includes('vanilla'),
    torchImports: () => torchUnavailable(options.python) === undefined,
  });
}

const round = (x: number, digits = 1) => Number(x.toFixed(digits));

interface TorchReport {
  timed: string;
  threads: number;
  /** torch_twin.py's medians before, halfway through and after the library's timed steps, with the load average after each. */
  runs: { medianStepMs: number; medianCpuMs: number; loadAverage: number }[];
  /** The median of those runs' medians. */
  medianStepMs: number;
  /** The library's vanilla median ÷ PyTorch's. */
  vanillaOverTorch: number;
  /** CPU time per step (all threads), the median of the runs' medians, and the library's vanilla CPU time ÷ it: less distorted by other jobs. */
  medianCpuMs: number;
  vanillaCpuOverTorchCpu: number;
}

interface ModeResult {
  /** The code the step timed (the library's trainer, or the hand-stepped baseline). */
  timed: string;
  setting: string;
  medianStepMs: number;
  minStepMs: number;
  maxStepMs: number;
  samplesPerSecond: number;
  /** CPU time (user + system, all threads of this process) per step: less sensitive to other jobs than wall time. */
  medianCpuMs: number;
  lastLoss: number;
  steps: number;
}

function wasmHeapBytes(): number | undefined {
  const backend = tf.backend() as unknown as { wasm?: { HEAPU8?: Uint8Array } };
  return backend.wasm?.HEAPU8?.byteLength;
}

async function main(): Promise<void> {
  const options = parseArgs(process.argv.slice(2));
  const progress = (message: string) => console.error(message);

  let backendLabel: string;
  if (options.stock) {
    await import('@tensorflow/tfjs-backend-wasm');
    if (!(await tf.setBackend('wasm'))) fail('the wasm backend failed to initialize');
    await tf.ready();
    registerWasmTrainingKernels({ fast: false });
    backendLabel = 'wasm-stock';
  } else {
    backendLabel = await initBackend({ backend: options.backend, log: false, threads: options.threads });
    if (backendLabel === 'wasm') backendLabel += ` (${wasmThreadsInUse()} thread${wasmThreadsInUse() > 1 ? 's' : ''})`;
  }
  progress(`bench:step on ${backendLabel}, batch ${options.batch}, ${options.warmup} warm-up + ${options.steps} timed steps per mode`);
  const threads = options.stock || options.backend !== 'wasm' ? 1 : wasmThreadsInUse();

  // PyTorch runs before, halfway through and after the library's timed steps (never during a
  // step): the ratio then compares medians taken in the same few minutes, which is all a shared
  // machine allows, and the median of three runs shrugs off one disturbed by another job.
  const withTorch = resolveTorch(options);
  if (withTorch) requireTorch(options.python, TORCH_TWIN, 'bench:step --torch');
  const torchRuns: (TwinResult & { loadAverage: number })[] = [];
  const runTorch = (when: string) => {
    progress(`  torch_twin.py ${when} the library's steps (load ${loadNow()})`);
    const args = ['--mode', 'vanilla', '--batch', String(options.batch), '--threads', String(threads), '--widths', options.widths.join(',')];
    args.push('--steps', String(options.steps), '--warmup', String(options.warmup));
    torchRuns.push({ ...runTwin({ python: options.python, script: TORCH_TWIN, args }, 'bench:step --torch'), loadAverage: loadNow() });
  };
  if (withTorch) runTorch('before');

  const results: Partial<Record<Mode, ModeResult>> = {};
  let parameterCount = 0;
  let breakdown: StepBreakdown | undefined;
  let profilePeakBytes: number | undefined;
  let peakTensorBytes = 0;

  // All modes step in turn (round robin), so that they see the same machine load: on a shared
  // machine, timing them one after the other can differ by more than the effects measured.
  const runners = new Map<Mode, StepRunner>(options.modes.map((mode) => [mode, createStepRunner(mode, options.batch, options.widths)]));
  parameterCount = [...runners.values()][0].parameterCount;
  const lastLoss = new Map<Mode, number>();
  for (let i = 0; i < options.warmup; i++) {
    for (const [mode, runner] of runners) lastLoss.set(mode, runner.step());
  }
  const tensorsBefore = tf.memory().numTensors;
  const times = new Map<Mode, number[]>(options.modes.map((m) => [m, []]));
  const cpuTimes = new Map<Mode, number[]>(options.modes.map((m) => [m, []]));
  for (let i = 0; i < options.steps; i++) {
    if (withTorch && i === options.steps >> 1 && i > 0) runTorch('halfway through');
    for (const [mode, runner] of runners) {
      const started = performance.now();
      const cpuBefore = process.cpuUsage();
      lastLoss.set(mode, runner.step());
      times.get(mode)!.push(performance.now() - started);
      const cpu = process.cpuUsage(cpuBefore);
      cpuTimes.get(mode)!.push((cpu.user + cpu.system) / 1000);
      peakTensorBytes = Math.max(peakTensorBytes, tf.memory().numBytes);
    }
    if ((i + 1) % 5 === 0 || i === options.steps - 1) progress(`  step ${i + 1}/${options.steps} of every mode`);
  }
  const leaked = tf.memory().numTensors - tensorsBefore;
  if (leaked !== 0) throw new Error(`the timed steps leaked ${leaked} tensors`);
  if (withTorch) runTorch('after');
  for (const mode of options.modes) {
    const t = times.get(mode)!;
    const loss = lastLoss.get(mode)!;
    if (!Number.isFinite(loss)) throw new Error(`mode ${mode} produced a non-finite loss (${loss})`);
    const med = median(t);
    results[mode] = {
      ...MODE_DESCRIPTIONS[mode],
      medianStepMs: round(med),
      minStepMs: round(Math.min(...t)),
      maxStepMs: round(Math.max(...t)),
      samplesPerSecond: round((options.batch * 1000) / med),
      medianCpuMs: round(median(cpuTimes.get(mode)!)),
      lastLoss: round(loss, 4),
      steps: t.length,
    };
    progress(`  ${mode.padEnd(9)} median ${med.toFixed(1)} ms  (min ${Math.min(...t).toFixed(1)}, max ${Math.max(...t).toFixed(1)})`);
  }
  // Overhead of the bookkeeping: median over steps of vanilla/plain, each pair measured back to back.
  const pairedOverhead =
    times.has('vanilla') && times.has('plain')
      ? median(times.get('vanilla')!.map((v, i) => v / times.get('plain')![i] - 1))
      : null;

  const profiled = runners.get('vanilla') ?? [...runners.values()][0];
  if (options.profile) {
    // Registered kernels only: the other names tfjs records are customGrad wrappers (see summarizeProfile).
    const backendName = tf.getBackend();
    const isKernel = (name: string) => tf.getKernel(name, backendName) !== undefined;
    const profiledSteps: ProfiledStep[] = [];
    profilePeakBytes = 0;
    for (let i = 0; i < options.profileSteps; i++) {
      const started = performance.now();
      const info = await tf.profile(() => {
        profiled.step();
      });
      const wallMs = performance.now() - started;
      profilePeakBytes = Math.max(profilePeakBytes, info.peakBytes);
      profiledSteps.push({ wallMs, kernels: await summarizeProfile(info, isKernel) });
    }
    breakdown = combineProfiledSteps(profiledSteps);
  }
  for (const runner of runners.values()) runner.dispose();
  let data: DataPipelineReport | undefined;
  if (options.data) {
    progress('  timing the CG-MNIST data pipeline');
    data = measureDataPipeline(options.batch);
  }

  const vanilla = results.vanilla;
  let torchReport: TorchReport | null = null;
  if (withTorch && vanilla) {
    const torchMedian = round(median(torchRuns.map((r) => r.medianStepMs)));
    const torchCpu = round(median(torchRuns.map((r) => r.medianCpuMs)));
    if (torchRuns[0].parameterCount !== parameterCount) {
      throw new Error(`torch_twin.py has ${torchRuns[0].parameterCount} trainable parameters, the library's network ${parameterCount}: the twins no longer match`);
    }
    torchReport = {
      timed: 'torch/torch_twin.py --mode vanilla (forward, backward, learning-speed terms, SGD momentum)',
      threads: torchRuns[0].threads,
      runs: torchRuns.map((r) => ({ medianStepMs: r.medianStepMs, medianCpuMs: r.medianCpuMs, loadAverage: r.loadAverage })),
      medianStepMs: torchMedian,
      vanillaOverTorch: ratio(vanilla.medianStepMs, torchMedian),
      medianCpuMs: torchCpu,
      vanillaCpuOverTorchCpu: ratio(vanilla.medianCpuMs, torchCpu),
    };
  }
  const rss = process.resourceUsage().maxRSS * 1024;
  const report = {
    backend: backendLabel,
    batch: options.batch,
    widths: options.widths,
    threads,
    medianStepMs: vanilla?.medianStepMs ?? null,
    medianCpuMs: vanilla?.medianCpuMs ?? null,
    loadAverage: loadavg().map((x) => round(x, 2)),
    modes: results,
    balancerOverhead: pairedOverhead === null ? null : round(pairedOverhead, 4),
    parameterCount,
    torch: torchReport,
    dataPipeline: data
      ? {
          buildMs: round(data.buildMs),
          samplesPerSecond: round(data.samplesPerSecond),
          batches: data.batches,
          timesTrainingThroughput: vanilla ? round(data.samplesPerSecond / vanilla.samplesPerSecond) : null,
        }
      : null,
    memory: {
      peakRssBytes: rss,
      peakTensorBytesBetweenSteps: peakTensorBytes,
      peakTensorBytesWithinProfiledStep: profilePeakBytes ?? null,
      wasmHeapBytes: wasmHeapBytes() ?? null,
    },
    kernels: breakdown?.kernels.map((k) => ({ name: k.name, calls: k.calls, totalMs: round(k.totalMs, 2) })) ?? null,
    profiledMode: breakdown ? profiled.mode : null,
    profiledSteps: breakdown?.profiledSteps ?? null,
    profiledStepMs: breakdown ? round(breakdown.profiledStepMs) : null,
    kernelCallsPerStep: breakdown?.kernelCalls ?? null,
    kernelMs: breakdown ? round(breakdown.kernelMs) : null,
    /** Wall − Σ kernel ms of the profiled steps: JS, tfjs's dispatch and the profiler's own bookkeeping. */
    outsideKernelsMs: breakdown ? round(breakdown.outsideKernelsMs) : null,
    /** The profiled mode's timed (unprofiled) median − Σ kernel ms: the same without the profiler's bookkeeping. */
    timedOutsideKernelsMs: breakdown && results[profiled.mode] ? round(results[profiled.mode]!.medianStepMs - breakdown.kernelMs) : null,
    node: process.version,
    tfjs: tf.version_core,
  };

  if (options.json) {
    console.log(JSON.stringify(report));
    return;
  }
  console.log(`\nbackend ${backendLabel}  batch ${options.batch}  widths ${options.widths.join('/')}  parameters ${parameterCount}`);
  for (const [mode, r] of Object.entries(results)) {
    console.log(
      `${mode.padEnd(10)} median ${String(r.medianStepMs).padStart(8)} ms   min ${r.minStepMs}  max ${r.maxStepMs}   ${r.samplesPerSecond} samples/s   cpu ${r.medianCpuMs} ms`,
    );
    console.log(`${''.padEnd(10)} timed: ${r.timed}; ${r.setting}`);
  }
  if (torchReport) {
    const runs = torchReport.runs.map((r) => `${r.medianStepMs} ms at load ${r.loadAverage}`).join(', then ');
    console.log(`PyTorch (${torchReport.timed}, ${torchReport.threads} thread${torchReport.threads > 1 ? 's' : ''}): ${runs}; library vanilla ÷ PyTorch ${torchReport.vanillaOverTorch} (CPU time per step: ${torchReport.vanillaCpuOverTorchCpu})`);
  }
  if (report.balancerOverhead !== null) {
    console.log(`balancer bookkeeping overhead (median of back-to-back vanilla/plain step pairs): ${(report.balancerOverhead * 100).toFixed(1)} %`);
  }
  if (report.dataPipeline) {
    const d = report.dataPipeline;
    console.log(
      `data pipeline: ${d.samplesPerSecond} samples/s (batches → tensors; ${d.timesTrainingThroughput ?? '?'}× the vanilla step's throughput), one-off build ${d.buildMs} ms`,
    );
  }
  const mb = (b: number | null | undefined) => (b == null ? 'n/a' : `${(b / 2 ** 20).toFixed(0)} MB`);
  console.log(
    `memory: peak RSS ${mb(rss)}, wasm heap ${mb(report.memory.wasmHeapBytes)}, peak tensor bytes within a step ${mb(profilePeakBytes)}`,
  );
  if (breakdown) {
    const { kernels, profiledStepMs } = breakdown;
    const steps = breakdown.profiledSteps === 1 ? 'one profiled step' : `medians of ${breakdown.profiledSteps} profiled steps`;
    console.log(
      `\nper-kernel breakdown of the ${profiled.mode} step, ${steps}: ${profiledStepMs.toFixed(0)} ms wall, ${breakdown.kernelMs.toFixed(0)} ms in ${breakdown.kernelCalls} kernel calls, ${breakdown.outsideKernelsMs.toFixed(0)} ms outside kernels (timed median − Σ kernel ms: ${report.timedOutsideKernelsMs ?? 'n/a'} ms)`,
    );
    for (const k of kernels.slice(0, 20)) {
      console.log(`  ${k.name.padEnd(28)} ${k.totalMs.toFixed(1).padStart(9)} ms  ${String(k.calls).padStart(4)} calls  ${((100 * k.totalMs) / profiledStepMs).toFixed(1).padStart(5)} %`);
    }
    const rest = kernels.slice(20).reduce((a, k) => a + k.totalMs, 0);
    if (kernels.length > 20) console.log(`  ${'(other kernels)'.padEnd(28)} ${rest.toFixed(1).padStart(9)} ms`);
  }
}

await main();
