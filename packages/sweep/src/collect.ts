import { setTimeout as sleep } from 'node:timers/promises';
import { openQueues } from './queues.js';
import type { Json } from './run-id.js';
import { findSweep, type SweepSelection } from './status.js';
import type { SweepJobData } from './submit.js';
import type { SweepJobResult } from './worker.js';

export interface CollectedRun {
  id: string;
  runner: string;
  label: string;
  /** Relative to the runs directory. */
  folder: string;
  config: Json;
  result: Json;
  /** The worker that ran it ('local' for a run here); absent when its job is gone. */
  worker?: string;
  startedAt?: number;
  finishedAt?: number;
}

/** A finished sweep: what was submitted, and every run's result in the submitted order. */
export interface CollectedSweep {
  id: string;
  kind: string;
  meta: Json;
  runs: CollectedRun[];
  /** Seconds from submission until every run had finished. */
  wallSeconds: number;
}

export interface CollectOptions extends SweepSelection {
  /** Wait for the sweep to finish instead of failing while it runs (default false). */
  wait?: boolean;
  /** Give up waiting after this many seconds (default: never). */
  timeoutSeconds?: number;
  /** Called while waiting, about every poll, with the runs finished so far. */
  onWait?: (finished: number, total: number) => void;
}

const POLL_MS = 2000;

/**
 * The results of a finished sweep, from its collecting job. A sweep still running is an error
 * (or, with `wait`, awaited); a failed one is an error naming the runs that failed and why.
 */
export async function collectSweep(o: CollectOptions): Promise<CollectedSweep> {
  const queues = openQueues(o);
  const where = `${queues.names.sweeps} at ${o.redis}`;
  const started = Date.now();
  try {
    let sweep = await findSweep(queues.sweeps, o.sweep, where);
    const id = sweep.id!;
    for (;;) {
      const state = await sweep.getState();
      if (state === 'completed') break;
      const runStates = await Promise.all(sweep.data.runs.map(async (r) => ({ run: r, job: await queues.runs.getJob(r.id) })));
      const finished = (await Promise.all(runStates.map(async ({ job }) => (job ? job.getState() : 'missing')))).filter((s) => s === 'completed').length;
      if (state === 'failed') {
        const failed = await Promise.all(runStates.map(async ({ run, job }) => (job && (await job.getState()) === 'failed' ? `  ${run.label} (${run.id}): ${job.failedReason}` : undefined)));
        const lines = failed.filter((l): l is string => l !== undefined);
        throw new Error(`sweep ${id} failed${lines.length ? `; failed runs:\n${lines.join('\n')}` : `: ${sweep.failedReason}`}\nFix the cause and submit the sweep again: its finished runs are kept, the failed ones resume from their checkpoints.`);
      }
      if (!o.wait) throw new Error(`sweep ${id} is still running (${finished}/${sweep.data.runs.length} runs finished); see \`status\`, or collect with --wait`);
      if (o.timeoutSeconds !== undefined && Date.now() - started > o.timeoutSeconds * 1000) throw new Error(`sweep ${id} did not finish within ${o.timeoutSeconds} s (${finished}/${sweep.data.runs.length} runs finished)`);
      o.onWait?.(finished, sweep.data.runs.length);
      await sleep(POLL_MS);
      sweep = (await queues.sweeps.getJob(id)) as typeof sweep;
      if (!sweep) throw new Error(`sweep ${id} was removed from ${where} while waiting for it`);
    }
    const data: SweepJobData = sweep.data;
    const results = new Map((sweep.returnvalue as SweepJobResult).runs.map((r) => [r.id, r.result]));
    const runs = await Promise.all(
      data.runs.map(async (run): Promise<CollectedRun> => {
        if (!results.has(run.id)) throw new Error(`sweep ${id}: the collected results lack ${run.label} (${run.id})`);
        const job = await queues.runs.getJob(run.id);
        return {
          id: run.id,
          runner: run.runner,
          label: run.label,
          folder: run.folder,
          config: run.config,
          result: results.get(run.id)!,
          ...(job?.processedBy ? { worker: job.processedBy } : {}),
          ...(job?.processedOn ? { startedAt: job.processedOn } : {}),
          ...(job?.finishedOn ? { finishedAt: job.finishedOn } : {}),
        };
      }),
    );
    return { id, kind: data.kind, meta: data.meta, runs, wallSeconds: ((sweep.processedOn ?? Date.now()) - data.submittedAt) / 1000 };
  } finally {
    await queues.close();
  }
}
