import { resolve } from 'node:path';
import type { CollectedSweep } from './collect.js';
import { executeRun } from './execute.js';
import type { SweepPlan } from './plan.js';
import { loadRunner, type RunnerRegistry, type RunProgress } from './runner.js';

export interface LocalRunOptions {
  /** Where the runs' folders go (the same layout as a worker's runs directory). */
  runsDir: string;
  log?: (line: string) => void;
  progress?: (label: string, progress: RunProgress) => void;
}

/**
 * Runs a planned sweep here, one run after another in this process, with the same runners,
 * folders and stored results as workers use, and returns what `collectSweep` would: no Redis
 * needed. Calling it again on the same runs directory skips finished runs and resumes the rest.
 */
export async function runSweepLocally(registry: RunnerRegistry, plan: SweepPlan, o: LocalRunOptions): Promise<CollectedSweep> {
  const runsDir = resolve(o.runsDir);
  const started = Date.now();
  const runs: CollectedSweep['runs'] = [];
  // plan.runs lists every run after the runs it needs.
  for (const run of plan.runs) {
    const runner = await loadRunner(registry, run.runner);
    const startedAt = Date.now();
    const { result } = await executeRun(runner, run.config, {
      id: run.id,
      folder: run.folder,
      runsDir,
      attempt: 1,
      log: (line) => o.log?.(`${run.label}: ${line}`),
      progress: (p) => o.progress?.(run.label, p),
    });
    runs.push({ id: run.id, runner: run.runner, label: run.label, folder: run.folder, config: run.config, result, worker: 'local', startedAt, finishedAt: Date.now() });
  }
  return { id: plan.id, kind: plan.kind, meta: plan.meta, runs, wallSeconds: (Date.now() - started) / 1000 };
}
