import { FlowProducer, type FlowJob, type Job } from 'bullmq';
import type { PlannedRun, SweepPlan } from './plan.js';
import { connection, openQueues, type QueueOptions } from './queues.js';
import type { Json } from './run-id.js';

/** What a run's job carries. */
export interface RunJobData {
  runner: string;
  config: Json;
  folder: string;
  label: string;
  /** The sweep that queued it. */
  sweep: string;
}

/** What a sweep's collecting job carries. */
export interface SweepJobData {
  kind: string;
  meta: Json;
  runs: { id: string; runner: string; label: string; folder: string; config: Json }[];
  submittedAt: number;
}

export interface SubmitOptions extends QueueOptions {
  /** Attempts per run before it fails (default 3); a takeover after a worker died is not one. */
  attempts?: number;
  /** First retry delay; it doubles with every attempt (default 10 s). */
  backoffSeconds?: number;
}

export interface SubmitReport {
  sweep: string;
  runs: number;
  /** Runs queued now (new, or failed before and queued again). */
  queued: number;
  /** Runs already finished (by this or another sweep): not run again. */
  finished: number;
  /** Runs already queued or running without a sweep, now counted in this one. */
  attached: number;
  /** The sweep had already been submitted and is still running: nothing was changed. */
  inProgress: boolean;
  /** The sweep had already finished: nothing was queued. */
  alreadyFinished: boolean;
}

type RunState = 'new' | 'finished' | 'attach';

const inProgressStates = new Set(['waiting', 'waiting-children', 'active', 'delayed', 'prioritized']);

type OwnerLookUp = (parentKey: string) => Promise<{ id: string; state: string } | undefined>;

/** What to do with a run of the plan, given the job its id already has (if any). */
async function runState(job: Job | undefined, run: PlannedRun, ownKey: string, owner: OwnerLookUp): Promise<RunState> {
  if (!job) return 'new';
  const state = await job.getState();
  if (state === 'completed') return 'finished';
  const parent = job.parentKey && job.parentKey !== ownKey ? await owner(job.parentKey) : undefined;
  if (state === 'failed') {
    if (parent !== undefined && inProgressStates.has(parent.state)) {
      throw new Error(`${run.label} (${run.id}) failed as part of ${parent.id}, which is still running; submit this sweep again once that one has finished`);
    }
    // Queued afresh: its folder keeps the checkpoints, so it resumes where it failed.
    await job.remove({ removeChildren: false });
    return 'new';
  }
  // Still queued or running. A job has one parent: it can join this sweep only if it has none.
  if (parent !== undefined) {
    throw new Error(`${run.label} (${run.id}) is ${state} as part of ${parent.id}; submit this sweep again once it has finished (finished runs are reused, not run again)`);
  }
  return 'attach';
}

/**
 * Queues a planned sweep as one BullMQ flow: the sweep's collecting job is the parent, every run
 * not finished yet is a child (a run another run needs is that run's child), each with the
 * run's deterministic id, retries with exponential backoff, and `failParentOnFailure` so that a
 * run that fails for good fails its sweep. Submitting the same sweep again changes nothing while
 * it runs and queues nothing once it has finished; a failed sweep is queued again with only its
 * unfinished runs. Runs finished by any sweep are reused.
 */
export async function submitSweep(plan: SweepPlan, o: SubmitOptions): Promise<SubmitReport> {
  const attempts = o.attempts ?? 3;
  const backoffSeconds = o.backoffSeconds ?? 10;
  if (!Number.isInteger(attempts) || attempts < 1) throw new Error(`attempts must be an integer ≥ 1, got ${attempts}`);
  if (!(backoffSeconds >= 0)) throw new Error(`backoffSeconds must be ≥ 0, got ${backoffSeconds}`);
  const queues = openQueues(o);
  const flows = new FlowProducer({ connection: connection(o.redis) });
  const report: SubmitReport = { sweep: plan.id, runs: plan.runs.length, queued: 0, finished: 0, attached: 0, inProgress: false, alreadyFinished: false };
  try {
    const existing = await queues.sweeps.getJob(plan.id);
    if (existing) {
      const state = await existing.getState();
      if (state === 'completed') return { ...report, finished: plan.runs.length, alreadyFinished: true };
      if (state === 'failed') await existing.remove({ removeChildren: false });
      else return { ...report, inProgress: true };
    }
    const sweepKey = `${queues.sweeps.qualifiedName}:${plan.id}`;
    // Parent keys read '<prefix>:<queue>:<job id>'; neither queue names nor job ids hold ':'.
    const owner: OwnerLookUp = async (parentKey) => {
      const [, queue, id] = parentKey.split(':');
      const q = queue === queues.names.runs ? queues.runs : queue === queues.names.sweeps ? queues.sweeps : undefined;
      const job = await q?.getJob(id);
      return job ? { id: queue === queues.names.sweeps ? `sweep ${id}` : `run ${id}`, state: await job.getState() } : undefined;
    };
    const neededBy = new Map<string, string>();
    for (const run of plan.runs) for (const id of run.needs) neededBy.set(id, run.id);
    // The parent a run's job may already have: the run that needs it, or else the sweep.
    const ownKey = (run: PlannedRun) => (neededBy.has(run.id) ? `${queues.runs.qualifiedName}:${neededBy.get(run.id)}` : sweepKey);
    const states = new Map<string, RunState>();
    for (const run of plan.runs) {
      const state = await runState(await queues.runs.getJob(run.id), run, ownKey(run), owner);
      states.set(run.id, state);
      if (state === 'new') report.queued++;
      else if (state === 'finished') report.finished++;
      else report.attached++;
    }

    const byId = new Map(plan.runs.map((r) => [r.id, r]));
    const included = (id: string) => states.get(id) !== 'finished';
    const node = (run: PlannedRun): FlowJob => ({
      name: run.runner,
      queueName: queues.names.runs,
      data: { runner: run.runner, config: run.config, folder: run.folder, label: run.label, sweep: plan.id } satisfies RunJobData,
      opts: {
        jobId: run.id,
        attempts,
        backoff: { type: 'exponential', delay: backoffSeconds * 1000 },
        failParentOnFailure: true,
        removeOnComplete: false,
        removeOnFail: false,
      },
      children: run.needs.filter(included).map((id) => node(byId.get(id)!)),
    });
    // A run hangs under the run that needs it, unless that one has finished already.
    const topLevel = plan.runs.filter((r) => included(r.id) && !(neededBy.has(r.id) && included(neededBy.get(r.id)!)));
    await flows.add({
      name: plan.kind,
      queueName: queues.names.sweeps,
      data: { kind: plan.kind, meta: plan.meta, runs: plan.runs.map((r) => ({ id: r.id, runner: r.runner, label: r.label, folder: r.folder, config: r.config })), submittedAt: Date.now() } satisfies SweepJobData,
      opts: { jobId: plan.id, removeOnComplete: false, removeOnFail: false },
      children: topLevel.map(node),
    });
    return report;
  } finally {
    await flows.close();
    await queues.close();
  }
}
