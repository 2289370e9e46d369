import type { Job, Queue } from 'bullmq';
import { openQueues, type QueueOptions } from './queues.js';
import type { RunProgress } from './runner.js';
import type { SweepJobData } from './submit.js';

export interface RunStatus {
  id: string;
  label: string;
  runner: string;
  folder: string;
  /** BullMQ's state: waiting, waiting-children (its prerequisites run first), active, delayed (retry backoff), completed, failed; 'missing' once its job was removed. */
  state: string;
  /** Attempts so far: finished ones (failed or successful) and the one running now. A takeover after a worker died is not one. */
  attempts: number;
  progress?: RunProgress;
  /** The worker that runs it, or ran it last. */
  worker?: string;
  startedAt?: number;
  finishedAt?: number;
  failedReason?: string;
}

export interface SweepStatus {
  id: string;
  kind: string;
  /** The collecting job's state: waiting-children until every run has finished, then completed (or failed). */
  state: string;
  submittedAt: number;
  runs: RunStatus[];
}

export interface SweepSelection extends QueueOptions {
  /** The sweep's id as `submit` printed it; default: the sweep submitted last. */
  sweep?: string;
}

/** The sweep asked for, or the one submitted last; an error says what exists. */
export async function findSweep(sweeps: Queue, sweep: string | undefined, where: string): Promise<Job<SweepJobData>> {
  if (sweep !== undefined) {
    const job = (await sweeps.getJob(sweep)) as Job<SweepJobData> | undefined;
    if (!job) throw new Error(`no sweep ${sweep} on ${where}; \`status\` without --sweep lists the sweeps there`);
    return job;
  }
  const all = (await sweeps.getJobs(['waiting', 'waiting-children', 'active', 'delayed', 'completed', 'failed', 'prioritized'])) as Job<SweepJobData>[];
  if (all.length === 0) throw new Error(`no sweep has been submitted to ${where}`);
  return all.reduce((a, b) => (b.data.submittedAt > a.data.submittedAt ? b : a));
}

/** Every sweep in the queues, newest first. */
export async function listSweeps(o: QueueOptions): Promise<{ id: string; kind: string; state: string; runs: number; submittedAt: number }[]> {
  const queues = openQueues(o);
  try {
    const all = (await queues.sweeps.getJobs(['waiting', 'waiting-children', 'active', 'delayed', 'completed', 'failed', 'prioritized'])) as Job<SweepJobData>[];
    const rows = await Promise.all(all.map(async (j) => ({ id: j.id!, kind: j.data.kind, state: await j.getState(), runs: j.data.runs.length, submittedAt: j.data.submittedAt })));
    return rows.sort((a, b) => b.submittedAt - a.submittedAt);
  } finally {
    await queues.close();
  }
}

/** The state of a sweep and of each of its runs. */
export async function sweepStatus(o: SweepSelection): Promise<SweepStatus> {
  const queues = openQueues(o);
  try {
    const sweep = await findSweep(queues.sweeps, o.sweep, `${queues.names.sweeps} at ${o.redis}`);
    const runs = await Promise.all(
      sweep.data.runs.map(async (run): Promise<RunStatus> => {
        const job = await queues.runs.getJob(run.id);
        const base = { id: run.id, label: run.label, runner: run.runner, folder: run.folder };
        if (!job) return { ...base, state: 'missing', attempts: 0 };
        const progress = job.progress && typeof job.progress === 'object' && 'fraction' in job.progress ? (job.progress as unknown as RunProgress) : undefined;
        const state = await job.getState();
        return {
          ...base,
          state,
          // BullMQ counts an attempt when it ends.
          attempts: job.attemptsMade + (state === 'active' ? 1 : 0),
          ...(progress ? { progress } : {}),
          ...(job.processedBy ? { worker: job.processedBy } : {}),
          ...(job.processedOn ? { startedAt: job.processedOn } : {}),
          ...(job.finishedOn ? { finishedAt: job.finishedOn } : {}),
          ...(job.failedReason ? { failedReason: job.failedReason } : {}),
        };
      }),
    );
    return { id: sweep.id!, kind: sweep.data.kind, state: await sweep.getState(), submittedAt: sweep.data.submittedAt, runs };
  } finally {
    await queues.close();
  }
}

const clock = (ms: number) => new Date(ms).toISOString().slice(11, 19);

/** A sweep's status as a table: one line per run. */
export function formatStatus(status: SweepStatus, now = Date.now()): string {
  const counts = new Map<string, number>();
  for (const r of status.runs) counts.set(r.state, (counts.get(r.state) ?? 0) + 1);
  const done = counts.get('completed') ?? 0;
  const head = `sweep ${status.id} (${status.kind}): ${status.state === 'completed' ? 'finished and collected' : status.state}; ${done}/${status.runs.length} runs finished${[...counts].filter(([s]) => s !== 'completed').map(([s, n]) => `, ${n} ${s}`).join('')}`;
  const rows = status.runs.map((r) => {
    const seconds = r.startedAt ? Math.round(((r.finishedAt ?? now) - r.startedAt) / 1000) : undefined;
    const detail =
      r.state === 'completed'
        ? `done${seconds !== undefined ? ` in ${seconds} s` : ''}`
        : r.state === 'active'
          ? `${r.progress ? `${Math.round(100 * r.progress.fraction)}% ${r.progress.text}` : 'starting'}${r.startedAt ? ` (since ${clock(r.startedAt)})` : ''}`
          : r.state === 'failed'
            ? `failed: ${r.failedReason ?? 'unknown reason'}`
            : r.state === 'delayed'
              ? `retrying after: ${r.failedReason ?? 'a failure'}`
              : r.state === 'waiting-children'
                ? 'waiting for the runs it needs'
                : '';
    return [r.label, r.state, String(r.attempts), r.worker ?? '—', detail];
  });
  const header = ['run', 'state', 'attempts', 'worker', ''];
  const widths = header.map((h, k) => Math.max(h.length, ...rows.map((row) => row[k].length)));
  const line = (cells: string[]) => cells.map((c, k) => (k < cells.length - 1 ? c.padEnd(widths[k]) : c)).join('  ').trimEnd();
  return [head, line(header), ...rows.map(line)].join('\n');
}
