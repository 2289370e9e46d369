#!/usr/bin/env node
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { runCli } from '@mm/example-kit';
import { APPS } from './apps.js';
import { killAndResume, type AppReport } from './kill-resume.js';
import { aimedKills, WRITE_MOMENTS } from './kill-resume-table.js';

const CLI = {
  usage: 'pnpm --filter @mm/bench-reliability kill-resume -- [options]',
  summary: `Starts each example's real command line at a small scale, kills it with SIGKILL at random moments
and a few milliseconds after a checkpoint write began, resumes it with --resume every time until it
finishes, and checks that every start resumed, every checkpoint could be read after every kill and
never went back, and that the results, every epoch log and step loss and the final weights equal an
uninterrupted run's.`,
  options: {
    apps: { kind: 'list', value: 'LIST', of: Object.keys(APPS), help: `default ${Object.keys(APPS).join(',')}` },
    kills: { kind: 'int', value: 'N', min: 1, help: 'kills per app (default 20)' },
    seed: { kind: 'int', value: 'N', min: 0, help: 'seed of the kill moments (default 1)' },
    work: { kind: 'string', value: 'DIR', help: 'scratch folder (default a new one under the system temp folder)' },
    report: { kind: 'string', value: 'FILE', help: 'write the full report as JSON' },
  },
} as const;

await runCli(CLI, async (args) => {
  const work = resolve(args.work ?? mkdtempSync(join(tmpdir(), 'mm-kill-resume-')));
  const reports: AppReport[] = [];
  for (const name of args.apps ?? Object.keys(APPS)) {
    const report = await killAndResume(APPS[name], { kills: args.kills ?? 20, seed: args.seed ?? 1, work, log: (line) => console.error(line) });
    reports.push(report);
    if (args.report) writeFileSync(args.report, `${JSON.stringify({ work, reports }, null, 2)}\n`);
  }
  console.log('app            kills  aimed at a write (writing / between renames / deleting old / after)  runs  checkpoints read  unreadable  went back  failed starts  differences  compared (steps, epochs, weights)  ok');
  for (const r of reports) {
    const aimed = aimedKills(r);
    console.log(
      [
        r.app.padEnd(14),
        String(r.kills.length).padStart(5),
        `${aimed.total} (${WRITE_MOMENTS.map((m) => aimed.landed[m]).join(' / ')})`.padEnd(68),
        String(r.runs).padStart(4),
        String(r.checkpointsRead).padStart(17),
        String(r.unreadable.length).padStart(11),
        String(r.regressions.length).padStart(10),
        String(r.failedStarts.length).padStart(14),
        String(r.differences.length).padStart(12),
        `${r.compared.steps}, ${r.compared.epochs}, ${r.compared.weights}`.padStart(35),
        r.ok ? ' yes' : ' NO',
      ].join(' '),
    );
    for (const line of [...r.failedStarts, ...r.unreadable, ...r.regressions, ...r.differences.slice(0, 10)]) console.log(`  ${line}`);
  }
  if (!reports.every((r) => r.ok)) process.exitCode = 1;
});
