import { Queue, Worker, type Job } from 'bullmq';
import { accessSync, constants, mkdirSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname, extname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { storedResult } from './execute.js';
import { connection, queueNames, type QueueOptions } from './queues.js';
import type { Json } from './run-id.js';
import { loadRunner, type RunnerRegistry } from './runner.js';
import type { RunJobData, SweepJobData } from './submit.js';
import { REGISTRY_ENV, RUNS_DIR_ENV } from './worker-env.js';

export interface WorkerOptions extends QueueOptions {
  /** The runners this worker can run: name → module. */
  registry: RunnerRegistry;
  /** The shared runs directory (every worker must see the same files, e.g. NFS or a mounted bucket). */
  runsDir: string;
  /** Runs at once, each in its own process (default 1; see the README on sizing). */
  concurrency?: number;
  /** Shown in `status` as who runs what (default `<hostname>-<pid>`). */
  name?: string;
  /**
   * Seconds a run's lock lasts without renewal (default 30): a run whose worker died is taken
   * over by another worker after at most about twice this.
   */
  lockSeconds?: number;
  /** How often a run may be taken over after its worker died before it fails (default 2). */
  maxTakeovers?: number;
  /** Extra environment for the training processes (e.g. MM_BACKEND, MM_WASM_THREADS). */
  env?: Record<string, string>;
  /** Where the worker reports what it does (default: nowhere). */
  log?: (line: string) => void;
}

export interface SweepWorker {
  name: string;
  /**
   * Stops taking runs. Without `force` it waits for the runs it holds to finish; with it, it
   * stops at once and its runs are taken over by other workers once their locks expire.
   */
  close(force?: boolean): Promise<void>;
}

/** The results of a sweep's runs, in its order, as its collecting job returns them. */
export interface SweepJobResult {
  runs: { id: string; result: Json }[];
}

/** The processor next to this module: processor.ts from the sources, processor.js from dist. */
function processorFile(): string {
  const here = fileURLToPath(import.meta.url);
  return join(dirname(here), `processor${extname(here)}`);
}

/**
 * Every run's result, read from its job (or, if the job was removed, from the result stored in
 * its folder). A missing one is an error naming the run.
 */
async function collectRuns(job: Job<SweepJobData>, runs: Queue, runsDir: string): Promise<SweepJobResult> {
  const out: SweepJobResult['runs'] = [];
  for (const run of job.data.runs) {
    const runJob = await runs.getJob(run.id);
    if (runJob && (await runJob.getState()) === 'completed') {
      out.push({ id: run.id, result: runJob.returnvalue as Json });
      continue;
    }
    const stored = storedResult(join(runsDir, run.folder), run.id);
    if (stored === undefined) throw new Error(`${run.label} (${run.id}) has no result: its job is ${runJob ? await runJob.getState() : 'gone'} and ${join(runsDir, run.folder)} holds none; submit the sweep again`);
    out.push({ id: run.id, result: stored });
  }
  return { runs: out };
}

/**
 * A worker: takes runs from the queue, each in a sandboxed process (a child process running the
 * registered runner), and collects every sweep whose runs have all finished. Start one per
 * machine (or more, see `concurrency`); they share the work through Redis.
 */
export async function startWorker(o: WorkerOptions): Promise<SweepWorker> {
  const names = queueNames(o.queue);
  const runsDir = resolve(o.runsDir);
  const log = o.log ?? (() => {});
  const concurrency = o.concurrency ?? 1;
  const lockDuration = (o.lockSeconds ?? 30) * 1000;
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new Error(`concurrency must be an integer ≥ 1, got ${o.concurrency}`);
  if (!(lockDuration >= 1000)) throw new Error(`lockSeconds must be at least 1, got ${o.lockSeconds}`);
  mkdirSync(runsDir, { recursive: true });
  try {
    accessSync(runsDir, constants.W_OK);
  } catch {
    throw new Error(`the runs directory ${runsDir} is not writable by this worker; every worker needs write access to it`);
  }
  // Fail now, not on the first job, when a registered runner cannot be imported.
  for (const name of Object.keys(o.registry)) await loadRunner(o.registry, name);

  const name = o.name ?? `${hostname()}-${process.pid}`;
  const common = { connection: connection(o.redis), name };
  const runWorker = new Worker<RunJobData, Json>(names.runs, processorFile(), {
    ...common,
    concurrency,
    lockDuration,
    stalledInterval: lockDuration,
    maxStalledCount: o.maxTakeovers ?? 2,
    workerForkOptions: { env: { ...process.env, ...o.env, [REGISTRY_ENV]: JSON.stringify(o.registry), [RUNS_DIR_ENV]: runsDir } },
  });
  const runs = new Queue(names.runs, { connection: connection(o.redis) });
  const sweepWorker = new Worker<SweepJobData, SweepJobResult>(names.sweeps, (job) => collectRuns(job, runs, runsDir), { ...common, concurrency: 1 });

  // A lock that could not be renewed may already belong to another worker: stop training here.
  runWorker.on('lockRenewalFailed', (ids) => {
    for (const id of ids) {
      log(`${name}: lost the lock of ${id}; stopping its training process, the run continues elsewhere from its checkpoint`);
      runWorker.cancelJob(id, 'lock lost');
    }
  });
  runWorker.on('active', (job) => log(`${name}: started ${job.data.label} (${job.id}), attempt ${job.attemptsMade + 1}`));
  runWorker.on('completed', (job) => log(`${name}: finished ${job.data.label} (${job.id})`));
  runWorker.on('failed', (job, error) => log(`${name}: ${job?.data.label ?? 'a run'} failed${job ? ` (attempt ${job.attemptsMade})` : ''}: ${error.message}`));
  sweepWorker.on('completed', (job) => log(`${name}: sweep ${job.id} finished, ${job.data.runs.length} runs collected`));
  sweepWorker.on('failed', (job, error) => log(`${name}: sweep ${job?.id} failed: ${error.message}`));
  for (const w of [runWorker, sweepWorker]) w.on('error', (error) => log(`${name}: ${error.message}`));
  await Promise.all([runWorker.waitUntilReady(), sweepWorker.waitUntilReady()]);
  log(`${name}: waiting for runs on ${names.runs} (concurrency ${concurrency}, runs directory ${runsDir})`);

  return {
    name,
    close: async (force = false) => {
      await Promise.all([runWorker.close(force), sweepWorker.close(force)]);
      await runs.close();
    },
  };
}
