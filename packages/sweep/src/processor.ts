/**
 * The sandboxed processor: BullMQ forks a process that imports this file and hands it one run at
 * a time. Training blocks its event loop for seconds per step; here that stalls nothing, because
 * the worker process that holds the job's lock (and renews it) is another process.
 */
import type { SandboxedJob } from 'bullmq';
import { executeRun } from './execute.js';
import { loadRunner, type RunnerRegistry } from './runner.js';
import type { RunJobData } from './submit.js';
import type { Json } from './run-id.js';
import { PROGRESS_INTERVAL_MS, REGISTRY_ENV, RUNS_DIR_ENV } from './worker-env.js';

// When the worker process dies (SIGKILL, lost machine) its training processes must not go on
// writing checkpoints into a folder that the worker taking the run over is about to use: a
// closed IPC channel means the parent is gone. Checkpoint writes are synchronous, so this never
// lands in the middle of one.
process.on('disconnect', () => process.exit(70));

function environment(): { registry: RunnerRegistry; runsDir: string } {
  const registry = process.env[REGISTRY_ENV];
  const runsDir = process.env[RUNS_DIR_ENV];
  if (!registry || !runsDir) throw new Error(`the sweep processor needs ${REGISTRY_ENV} and ${RUNS_DIR_ENV}; it is started by startWorker(), not by hand`);
  return { registry: JSON.parse(registry) as RunnerRegistry, runsDir };
}

export default async function processRun(job: SandboxedJob<RunJobData, Json>, _token?: string, signal?: AbortSignal): Promise<Json> {
  // The worker cancels the run when it could not renew the run's lock (its Redis connection was
  // down longer than the lock lasts): another worker may already have taken the run over, so this
  // process stops at once and leaves the folder to it, at its last checkpoint.
  signal?.addEventListener('abort', () => {
    console.error(`${job.data.label}: stopped, this worker lost the run's lock (${String(signal.reason ?? 'cancelled')})`);
    process.exit(71);
  });
  const { registry, runsDir } = environment();
  const { runner: name, config, folder, label } = job.data;
  const runner = await loadRunner(registry, name);
  let lastProgress = 0;
  const { result } = await executeRun(runner, config, {
    id: job.id,
    folder,
    runsDir,
    attempt: job.attemptsMade + 1,
    log: (line) => {
      console.log(`${label}: ${line}`);
      // Logging must never fail a run (e.g. while the worker is shutting down).
      Promise.resolve(job.log(line)).catch(() => {});
    },
    progress: (progress) => {
      const now = Date.now();
      if (now - lastProgress < PROGRESS_INTERVAL_MS && progress.fraction < 1) return;
      lastProgress = now;
      job.updateProgress({ ...progress }).catch(() => {});
    },
  });
  return result;
}
