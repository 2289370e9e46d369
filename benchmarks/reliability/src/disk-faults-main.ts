#!/usr/bin/env node
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { runCli } from '@mm/example-kit';
import { APPS, finished, startNode } from './apps.js';
import { diskFault, type DiskFault, type DiskFaultReport } from './disk-faults.js';

const CLI = {
  usage: 'pnpm --filter @mm/bench-reliability disk-faults -- [options]   (as root: it mounts small tmpfs folders)',
  summary: `Runs the colored-mnist main job (one method, 3 small epochs) and, once its first checkpoint is
written, makes the output folder fail: the disk filled up, the folder remounted read-only, or its
permissions removed (the run then goes as user nobody, since root ignores them). The run must stop
with an error that says what happened and what to do, keep its last good checkpoint, and after the
fault is lifted resume to the same results as an uninterrupted run.`,
  options: {
    work: { kind: 'string', value: 'DIR', help: 'scratch folder (default a new one under the system temp folder)' },
    report: { kind: 'string', value: 'FILE', help: 'write the reports as JSON' },
  },
} as const;

const FAULTS: DiskFault[] = ['disk full (tmpfs filled)', 'read-only mount (tmpfs remounted ro)', 'folder made read-only (chmod 555, run as nobody)'];

await runCli(CLI, async (args) => {
  if (process.getuid?.() !== 0) throw new Error('disk-faults mounts tmpfs folders and runs a child as nobody: run it as root');
  const work = resolve(args.work ?? mkdtempSync(join(tmpdir(), 'mm-disk-faults-')));
  const app = APPS['colored-mnist'];
  const appArgs = ['--methods', 'vanilla', '--seeds', '1', '--epochs', '3', '--train-size', '640', '--batch-size', '32', '--widths', '4,4,8,8'];
  const referenceDir = join(work, 'reference');
  rmSync(referenceDir, { recursive: true, force: true });
  const ref = await finished(startNode(app.cwd, app.entry, [...appArgs, '--out', referenceDir, '--quiet', '--backend', 'wasm']));
  if (ref.code !== 0) throw new Error(`the uninterrupted run failed: ${ref.stderr}`);
  const reference = JSON.parse(readFileSync(join(referenceDir, 'results.json'), 'utf8'));
  const reports: DiskFaultReport[] = [];
  for (const fault of FAULTS) {
    reports.push(await diskFault(app, fault, { work, args: appArgs, reference, log: (line) => console.error(line) }));
    if (args.report) writeFileSync(args.report, `${JSON.stringify({ work, args: appArgs, reports }, null, 2)}\n`);
  }
  for (const r of reports) {
    console.log(`${r.fault}: exit ${r.exitCode}; checkpoint epochs ${r.epochsBefore} before, ${r.epochsAfter} after; resumed ${r.resumed ? 'to the same results' : 'NO'}${r.differences.length ? ` (${r.differences.length} differences)` : ''}; ${r.ok ? 'ok' : 'NOT OK'}\n  ${r.error}`);
  }
  if (!reports.every((r) => r.ok)) process.exitCode = 1;
});
