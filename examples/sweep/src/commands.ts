import { SWEEP_KINDS, writeCollected } from '@mm/example-colored-mnist/sweeps';
import { writeFileAtomically } from '@mm/example-kit';
import { runSweepLocally, type CollectedSweep, type RunnerRegistry, type SweepPlan } from '@mm/sweep';
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';

const KNOWN_KINDS: readonly string[] = Object.values(SWEEP_KINDS);

/**
 * A finished sweep's files in `dir`: sweep.json (every run's config, result, worker and times)
 * and, for the project's sweeps, the results.json and report that the local command writes.
 */
async function writeOutputs(collected: CollectedSweep, dir: string, runsDir: string | undefined): Promise<void> {
  mkdirSync(dir, { recursive: true });
  writeFileAtomically(join(dir, 'sweep.json'), `${JSON.stringify(collected, null, 2)}\n`);
  if (!KNOWN_KINDS.includes(collected.kind)) {
    console.log(`sweep ${collected.id} (${collected.kind}): ${collected.runs.length} runs in ${collected.wallSeconds.toFixed(0)} s\nresults: ${join(dir, 'sweep.json')}`);
    return;
  }
  const results = await writeCollected(collected, { dir, runsDir });
  console.log(`\nsweep ${collected.id} (${collected.kind}): ${collected.runs.length} runs, backend ${results.backend}, ${collected.wallSeconds.toFixed(0)} s\n`);
  console.log(results.table);
  console.log(`\nresults: ${join(dir, 'results.json')}\nreport:  ${join(dir, 'report.html')}\nruns:    ${join(dir, 'sweep.json')}`);
}

/** `collect`: the sweep's files in --out (default runs/<sweep id>). */
export async function collectInto(collected: CollectedSweep, o: { out?: string; runsDir?: string }): Promise<void> {
  await writeOutputs(collected, resolve(o.out ?? join('runs', collected.id)), o.runsDir && resolve(o.runsDir));
}

/** `submit` without --redis: the whole sweep here, one run after another, then its files. */
export async function runHere(registry: RunnerRegistry, plan: SweepPlan, o: { out?: string; runs?: string; backend?: string; quiet: boolean }): Promise<void> {
  // The runners pick their backend the way training processes of a worker do: from the environment.
  if (o.backend) process.env.MM_BACKEND = o.backend;
  const dir = resolve(o.out ?? join('runs', plan.id));
  const runsDir = resolve(o.runs ?? join(dir, 'runs'));
  const live = Boolean(process.stderr.isTTY) && !o.quiet;
  let line = '';
  const endLine = () => {
    if (line) process.stderr.write('\n');
    line = '';
  };
  console.error(`running sweep ${plan.id} (${plan.kind}, ${plan.runs.length} runs) here; runs in ${runsDir}`);
  const collected = await runSweepLocally(registry, plan, {
    runsDir,
    log: (text) => {
      endLine();
      console.error(text);
    },
    progress: live
      ? (_label, p) => {
          process.stderr.write(`\r${p.text.padEnd(line.length)}`);
          line = p.text;
        }
      : undefined,
  });
  endLine();
  await writeOutputs(collected, dir, runsDir);
}
