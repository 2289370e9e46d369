import { initBackend } from '@mm/backend';
import { CLI, configFromCli } from '@mm/example-colored-mnist/config';
import { run } from '@mm/example-colored-mnist/run';
import { openRunDir, parseCli } from '@mm/example-kit';
import type { JobReport } from './report.js';

/**
 * The JS side of bench:job, one process per job: what `pnpm main -- <args>` does (the example's
 * command line, its run folder, the backend it picks, run(config, hooks)), without the live
 * progress line, reporting its phases as one JSON line on stdout.
 *
 * Start-up is everything before run() (Node, the TypeScript loader, the imports, the backend):
 * the driver counts it from the spawn to `jobStartedAtMs`.
 */
const { values: args } = parseCli(CLI, process.argv.slice(2));
const { dir, config } = openRunDir({ out: args.out, resume: undefined, name: 'colored-mnist', config: () => configFromCli(args) });
const backend = await initBackend({ backend: args.backend, log: false });
const jobStartedAtMs = Date.now();
const started = performance.now();
let dataBuilt: number | undefined;
const results = await run(config, {
  dir,
  backend,
  log: (line) => {
    // The line after the data set is built ('  train 6000, validation 1000, test 2000 …').
    if (dataBuilt === undefined && /^\s*train \d+, validation \d+, test \d+/.test(line)) dataBuilt = performance.now();
    console.error(line);
  },
});
const jobSeconds = (performance.now() - started) / 1000;
if (results.mode !== 'table') throw new Error('bench:job times Table 1; the example ran its sweep');
const cpu = process.cpuUsage();
const report: JobReport = {
  side: 'js',
  runtime: `tfjs ${backend}`,
  jobStartedAtMs,
  jobSeconds,
  dataSeconds: dataBuilt === undefined ? null : (dataBuilt - started) / 1000,
  cpuSeconds: (cpu.user + cpu.system) / 1e6,
  runs: results.runs.map((r) => ({ method: r.method, seed: r.seed, testAccuracy: r.testAccuracy, testHeadAccuracy: r.testHeadAccuracy, dUtil: r.dUtil ?? null, dSpeed: r.dSpeed ?? null, seconds: r.seconds })),
};
console.log(JSON.stringify(report));
