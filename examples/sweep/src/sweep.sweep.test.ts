// The project's sweeps on real Redis with worker processes of this CLI: `pnpm test:sweep`.
import { initBackend } from '@mm/backend';
import { CLI, configFromCli, type ColoredMnistConfig } from '@mm/example-colored-mnist/config';
import { run } from '@mm/example-colored-mnist/run';
import { coloredMnistSweep } from '@mm/example-colored-mnist/sweeps';
import type { CgMnistRunResult } from '@mm/example-colored-mnist/sweep-runner';
import { checkpointedEpochs, parseCli, readJson } from '@mm/example-kit';
import { planSweep, queueNames, runSweepLocally, submitSweep, type CollectedSweep, type SweepSpec } from '@mm/sweep';
import { startProcess, startRedisServer, type RedisServer, type StartedProcess } from '@mm/sweep/testing';
import { Queue } from 'bullmq';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_RUNNERS } from './registry.js';

const main = join(dirname(fileURLToPath(import.meta.url)), 'main.ts');
const scratch = mkdtempSync(join(tmpdir(), 'mm-sweep-cli-'));
const runsDir = join(scratch, 'shared-runs');
let redis: RedisServer;
const workers = new Map<string, StartedProcess>();

/** The sweep CLI as a user runs it; resolves when it exits. */
async function cli(...args: string[]): Promise<{ code: number | null; output: string }> {
  const p = startProcess(process.execPath, ['--conditions=@mm/source', '--import', 'tsx', main, ...args]);
  const { code } = await p.exited;
  return { code, output: p.output() };
}

async function startWorker(name: string): Promise<StartedProcess> {
  const worker = startProcess(process.execPath, ['--conditions=@mm/source', '--import', 'tsx', main, 'worker', '--redis', redis.url, '--runs', runsDir, '--name', name, '--lock-seconds', '4']);
  workers.set(name, worker);
  await worker.waitFor(/waiting for runs/, 240);
  return worker;
}

/** Table 1 at a scale that trains in seconds: the main job's defaults with the test-sized flags on top. */
function tinyTable(argv: string[]): ColoredMnistConfig {
  const config = configFromCli(parseCli(CLI, ['--train-size', '128', '--batch-size', '32', '--widths', '4,4,8,8', '--seeds', '1', ...argv]).values);
  return { ...config, testSize: 300, squeezeRecordingSamples: 200, trainAccuracySamples: 64 };
}

/** Timing differs from run to run; everything else must not. */
const withoutTimes = (value: unknown) => JSON.parse(JSON.stringify(value, (key, v) => (['wallSeconds', 'seconds', 'secondsPerStep', 'trainSeconds'].includes(key) ? undefined : v)));

const submitSpec = async (spec: SweepSpec) => submitSweep(await planSweep(PROJECT_RUNNERS, spec), { redis: redis.url, backoffSeconds: 1 });

describe('pnpm sweep: the project\'s sweeps on Redis with two workers', () => {
  beforeAll(async () => {
    redis = await startRedisServer();
    await initBackend({ backend: 'wasm', log: false });
    await Promise.all([startWorker('A'), startWorker('B')]);
  });
  afterAll(async () => {
    await Promise.all([...workers.values()].map((w) => w.stop('SIGKILL')));
    await redis?.stop();
    rmSync(scratch, { recursive: true, force: true });
  });

  const table = tinyTable(['--epochs', '2', '--methods', 'unimodal-gray,vanilla,guided']);
  const tableSpec = coloredMnistSweep(table);

  it('two workers share Table 1; collect writes the results.json, table and report of a local run of the same config', async () => {
    const report = await submitSpec(tableSpec);
    expect(report).toMatchObject({ runs: 3, queued: 3 });
    const out = join(scratch, 'collected');
    const collected = await cli('collect', '--redis', redis.url, '--sweep', report.sweep, '--runs', runsDir, '--out', out, '--wait');
    expect(collected.code, collected.output).toBe(0);

    const localDir = join(scratch, 'local');
    mkdirSync(localDir);
    const local = await run(table, { dir: localDir, backend: 'wasm' });
    const distributed = readJson<typeof local>(join(out, 'results.json'));
    expect(withoutTimes(distributed)).toEqual(withoutTimes(local));
    expect(distributed.table).toBe(local.table);
    expect(collected.output).toContain(local.table);
    for (const file of ['report.html', 'table1-comparison.svg', 'd-speed-guided.svg', 'training-loss.svg', 'samples-test.png']) expect(existsSync(join(out, file)), file).toBe(true);
    const sweep = readJson<CollectedSweep>(join(out, 'sweep.json'));
    expect(new Set(sweep.runs.map((r) => r.worker))).toEqual(new Set(['A', 'B']));
  });

  it('submitting the finished sweep again runs nothing', async () => {
    const spec = join(scratch, 'table.json');
    writeFileSync(spec, JSON.stringify(tableSpec));
    const again = await cli('submit', 'file', spec, '--redis', redis.url);
    expect(again.code, again.output).toBe(0);
    expect(again.output).toMatch(/sweep colored-mnist-table-\w+ \(colored-mnist-table, 3 runs\) had already finished: nothing to run/);
    const runs = new Queue(queueNames().runs, { connection: { url: redis.url } });
    try {
      const counts = await runs.getJobCounts('waiting', 'active', 'delayed', 'prioritized', 'waiting-children', 'completed');
      expect(counts).toMatchObject({ waiting: 0, active: 0, delayed: 0, prioritized: 0, 'waiting-children': 0, completed: 3 });
    } finally {
      await runs.close();
    }
  });

  it('rejects a malformed config at submit, saying which run and field, and queues nothing', async () => {
    const [good] = tableSpec.runs as { runner: string; config: { settings: Record<string, unknown> } }[];
    const bad = join(scratch, 'bad.json');
    writeFileSync(bad, JSON.stringify({ kind: 'broken', runs: [good, { runner: good.runner, config: { ...good.config, settings: { ...good.config.settings, widths: [4, 4, 8] } } }] }));
    const rejected = await cli('submit', 'file', bad, '--redis', redis.url);
    expect(rejected.code).toBe(1);
    expect(rejected.output).toMatch(/run #2 \(runner 'colored-mnist'\): invalid config: settings\.widths must be a list of 4, got \[4,4,8\]/);
    const sweeps = new Queue(queueNames().sweeps, { connection: { url: redis.url } });
    try {
      expect((await sweeps.getJobs()).map((j) => j.data.kind)).not.toContain('broken');
    } finally {
      await sweeps.close();
    }
  });

  it("finishes a run whose worker was killed with SIGKILL on the other worker, from the run's checkpoint, to the same result", async () => {
    const spec = coloredMnistSweep(tinyTable(['--train-size', '512', '--epochs', '3', '--methods', 'guided', '--seeds', '2']));
    const plan = await planSweep(PROJECT_RUNNERS, spec);
    const runDir = join(runsDir, plan.runs[0].folder);
    const report = await submitSweep(plan, { redis: redis.url });
    // Whichever worker took the run is killed once the run has checkpointed its first epoch.
    let holder: [string, StartedProcess] | undefined;
    for (let i = 0; i < 1200 && !(holder && checkpointedEpochs(runDir) >= 1); i++) {
      holder ??= [...workers].find(([name, w]) => w.output().includes(`${name}: started guided seed 2`));
      await sleep(100);
    }
    expect(holder, 'no worker took the run').toBeDefined();
    const [killedName, killed] = holder!;
    expect(checkpointedEpochs(runDir)).toBeLessThan(3);
    await killed.stop('SIGKILL');
    const [survivorName, survivor] = [...workers].find(([name]) => name !== killedName)!;

    const collected = await cli('collect', '--redis', redis.url, '--sweep', report.sweep, '--runs', runsDir, '--out', join(scratch, 'after-kill'), '--wait');
    expect(collected.code, collected.output).toBe(0);
    expect(survivor.output()).toMatch(/guided seed 2 .*: continuing from the checkpoint after epoch [12] \(attempt 1\)/);
    const sweep = readJson<CollectedSweep>(join(scratch, 'after-kill', 'sweep.json'));
    expect(sweep.runs[0].worker).toBe(survivorName);

    const local = await runSweepLocally(PROJECT_RUNNERS, plan, { runsDir: join(scratch, 'local-runs') });
    const resumed = (sweep.runs[0].result as unknown as CgMnistRunResult).run;
    const straight = (local.runs[0].result as unknown as CgMnistRunResult).run;
    expect(withoutTimes(resumed)).toEqual(withoutTimes(straight));
    expect(resumed.epochs).toHaveLength(3);
  });
});
