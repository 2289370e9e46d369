// Real Redis, real worker processes, real training processes: `pnpm test:sweep` (needs redis-server).
import { Queue } from 'bullmq';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collectSweep, planSweep, queueNames, submitSweep, sweepStatus, type SweepSpec } from './index.js';
import { expectedValue, type CounterConfig, type CounterResult } from './test-runners/counter.js';
import { startProcess, startRedisServer, type RedisServer, type StartedProcess } from './testing.js';

const here = dirname(fileURLToPath(import.meta.url));
const registry = { counter: join(here, 'test-runners', 'counter.ts') };
const LOCK_SECONDS = 4;

let redis: RedisServer;
let runsDir: string;
const workers = new Map<string, StartedProcess>();

async function startWorkerProcess(name: string): Promise<StartedProcess> {
  const worker = startProcess(process.execPath, ['--conditions=@mm/source', '--import', 'tsx', join(here, 'test-runners', 'worker-main.ts'), redis.url, runsDir, name, String(LOCK_SECONDS)]);
  workers.set(name, worker);
  await worker.waitFor(/waiting for runs/);
  return worker;
}

const sweepOf = (kind: string, configs: CounterConfig[]): SweepSpec => ({ kind, runs: configs.map((config) => ({ runner: 'counter', config })) });
const submit = async (spec: SweepSpec, o: { attempts?: number } = {}) => submitSweep(await planSweep(registry, spec), { redis: redis.url, backoffSeconds: 0.2, attempts: o.attempts });
const collect = (sweep: string) => collectSweep({ redis: redis.url, sweep, wait: true, timeoutSeconds: 120 });
const resultOf = (c: Awaited<ReturnType<typeof collect>>, seed: number) => c.runs.find((r) => (r.config as unknown as CounterConfig).seed === seed)!.result as unknown as CounterResult;
const folderOf = (c: Awaited<ReturnType<typeof collect>>, seed: number) => join(runsDir, c.runs.find((r) => (r.config as unknown as CounterConfig).seed === seed)!.folder);

describe('@mm/sweep on Redis with worker processes', () => {
  beforeAll(async () => {
    redis = await startRedisServer();
    runsDir = mkdtempSync(join(tmpdir(), 'mm-sweep-runs-'));
    await Promise.all([startWorkerProcess('A'), startWorkerProcess('B')]);
  });
  afterAll(async () => {
    await Promise.all([...workers.values()].map((w) => w.stop('SIGKILL')));
    await redis?.stop();
    rmSync(runsDir, { recursive: true, force: true });
  });

  it('retries a run that throws once; the retry resumes from its checkpoint', async () => {
    const report = await submit(sweepOf('retry', [{ seed: 1, steps: 6, stepMs: 20, failOnceAtStep: 3 }]));
    expect(report).toMatchObject({ queued: 1, finished: 0 });
    const collected = await collect(report.sweep);
    const result = resultOf(collected, 1);
    expect(result.value).toBe(expectedValue({ seed: 1, steps: 6 }));
    expect(result.attempts.map((a) => [a.attempt, a.fromStep])).toEqual([
      [1, 0],
      [2, 3],
    ]);
    const status = await sweepStatus({ redis: redis.url, sweep: report.sweep });
    expect(status.runs[0]).toMatchObject({ state: 'completed', attempts: 2 });
  });

  it('runs what a run needs first, in the same sweep', async () => {
    const report = await submit(sweepOf('needs', [{ seed: 20, steps: 3, stepMs: 50, after: [21, 22] }]));
    expect(report.runs).toBe(3);
    const collected = await collect(report.sweep);
    expect(collected.runs.map((r) => (r.config as unknown as CounterConfig).seed)).toEqual([21, 22, 20]);
    const [first, second, dependent] = collected.runs;
    expect(dependent.startedAt!).toBeGreaterThanOrEqual(Math.max(first.finishedAt!, second.finishedAt!));
    for (const seed of [20, 21, 22]) expect(resultOf(collected, seed).value).toBe(expectedValue({ seed, steps: 3 }));
  });

  it('fails a sweep whose run fails every attempt, naming it; submitting it again after the fix reruns only that run, from its checkpoint', async () => {
    const blocker = join(runsDir, 'mount-missing');
    writeFileSync(blocker, '');
    const spec = sweepOf('broken', [
      { seed: 30, steps: 3, stepMs: 10 },
      { seed: 31, steps: 5, stepMs: 10, failWhileExists: { file: 'mount-missing', step: 2 } },
    ]);
    const first = await submit(spec, { attempts: 2 });
    await expect(collect(first.sweep)).rejects.toThrow(/failed runs:\n {2}counter seed 31 \(counter-\w+\): mount-missing exists \(simulated broken environment\) at step 2[\s\S]*submit the sweep again/);

    rmSync(blocker);
    const again = await submit(spec, { attempts: 2 });
    expect(again).toMatchObject({ sweep: first.sweep, queued: 1, finished: 1, alreadyFinished: false });
    const collected = await collect(again.sweep);
    expect(resultOf(collected, 31).value).toBe(expectedValue({ seed: 31, steps: 5 }));
    expect(resultOf(collected, 31).attempts.map((a) => a.fromStep)).toEqual([0, 2, 2]);
    expect(resultOf(collected, 30).attempts).toHaveLength(1);
  });

  it('runs nothing when a finished sweep is submitted again, and only the new run of an extended one', async () => {
    const spec = sweepOf('again', [{ seed: 40, steps: 3, stepMs: 10 }]);
    const first = await collect((await submit(spec)).sweep);
    const attemptsFile = join(folderOf(first, 40), 'attempts.json');
    const before = readFileSync(attemptsFile, 'utf8');

    const report = await submit(spec);
    expect(report).toMatchObject({ sweep: first.id, queued: 0, finished: 1, alreadyFinished: true });
    const runs = new Queue(queueNames().runs, { connection: { url: redis.url } });
    try {
      const counts = await runs.getJobCounts('waiting', 'active', 'delayed', 'prioritized', 'waiting-children');
      expect(Object.values(counts).every((n) => n === 0)).toBe(true);
    } finally {
      await runs.close();
    }

    const extended = await submit(sweepOf('again', [{ seed: 40, steps: 3, stepMs: 10 }, { seed: 41, steps: 3, stepMs: 10 }]));
    expect(extended).toMatchObject({ queued: 1, finished: 1 });
    const collected = await collect(extended.sweep);
    expect(collected.runs.map((r) => resultOf(collected, (r.config as unknown as CounterConfig).seed).value)).toEqual([expectedValue({ seed: 40, steps: 3 }), expectedValue({ seed: 41, steps: 3 })]);
    expect(readFileSync(attemptsFile, 'utf8')).toBe(before);
  });

  it('rejects a malformed config at submit, before anything is queued', async () => {
    await expect(submit(sweepOf('malformed', [{ seed: 50, steps: 2, stepMs: 0 }, { seed: 51, steps: 'ten', stepMs: 0 } as unknown as CounterConfig]))).rejects.toThrow(
      /run #2 \(runner 'counter'\): invalid config: steps must be an integer ≥ 1, got "ten"/,
    );
    await expect(planSweep(registry, { kind: 'malformed', runs: [{ runner: 'countr', config: {} }] })).rejects.toThrow(/run #1 \(runner 'countr'\): no runner named 'countr' is registered; registered: counter/);
    const sweeps = new Queue(queueNames().sweeps, { connection: { url: redis.url } });
    try {
      expect((await sweeps.getJobs()).map((j) => j.data.kind)).not.toContain('malformed');
    } finally {
      await sweeps.close();
    }
  });

  it("has a run of a worker killed with SIGKILL finished by the other worker from the run's checkpoint", async () => {
    const report = await submit(sweepOf('kill', [{ seed: 60, steps: 24, stepMs: 150 }, { seed: 61, steps: 24, stepMs: 150 }]));
    const a = workers.get('A')!;
    const started = await a.waitFor(/A: started counter seed 6\d/);
    const seed = Number(/seed (\d+)/.exec(started)![1]);
    const plan = await planSweep(registry, sweepOf('kill', [{ seed, steps: 24, stepMs: 150 }]));
    const checkpoint = join(runsDir, plan.runs[0].folder, 'checkpoint.json');
    // Kill worker A once its run has checkpointed a few steps.
    for (let i = 0; i < 600 && !(existsSync(checkpoint) && JSON.parse(readFileSync(checkpoint, 'utf8')).step >= 3); i++) await sleep(100);
    const { signal } = await a.stop('SIGKILL');
    expect(signal).toBe('SIGKILL');

    const collected = await collect(report.sweep);
    const killed = resultOf(collected, seed);
    expect(killed.value).toBe(expectedValue({ seed, steps: 24 }));
    const [byA, ...rest] = killed.attempts;
    const byB = rest.at(-1)!;
    expect(byA).toMatchObject({ workerPid: a.pid, fromStep: 0 });
    expect(byB.workerPid).toBe(workers.get('B')!.pid);
    expect(byB.fromStep).toBeGreaterThanOrEqual(3);
    expect(collected.runs.find((r) => (r.config as unknown as CounterConfig).seed === seed)!.worker).toBe('B');
    // A's training process stopped with A: it wrote no step after the one B resumed from.
    const stepsByA = readFileSync(join(folderOf(collected, seed), 'steps.log'), 'utf8').trim().split('\n').map((l) => l.split(' ').map(Number)).filter(([pid]) => pid === byA.pid);
    expect(Math.max(...stepsByA.map(([, step]) => step))).toBeLessThanOrEqual(byB.fromStep);
    expect(resultOf(collected, seed === 60 ? 61 : 60).value).toBe(expectedValue({ seed: seed === 60 ? 61 : 60, steps: 24 }));
  });
});
