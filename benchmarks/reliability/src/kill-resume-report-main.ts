#!/usr/bin/env node
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { runCli } from '@mm/example-kit';
import { REPO } from './apps.js';
import { killResumeTable, mergeReports, parseReports, replaceBetweenMarkers } from './kill-resume-table.js';

const CLI = {
  usage: 'pnpm --filter @mm/bench-reliability kill-resume-report -- [options]',
  summary: `Merges the reports of kill-resume loops into the results file (a later report of an app replaces
its earlier row) and renders the table of RELIABILITY.md's kill-and-resume section from it.`,
  options: {
    add: { kind: 'list', value: 'FILES', help: 'reports written by kill-resume --report to merge in (default none: render only)' },
    results: { kind: 'string', value: 'FILE', help: 'the merged results (default benchmarks/reliability/results/kill-resume.json)' },
    doc: { kind: 'string', value: 'FILE', help: 'the document whose kill-resume-table block is rendered (default RELIABILITY.md)' },
  },
} as const;

await runCli(CLI, async (args) => {
  const resultsFile = resolve(args.results ?? join(REPO, 'benchmarks/reliability/results/kill-resume.json'));
  const docFile = resolve(args.doc ?? join(REPO, 'RELIABILITY.md'));
  const read = (file: string) => parseReports(readFileSync(file, 'utf8'), file);
  const reports = mergeReports(read(resultsFile), ...(args.add ?? []).map((file) => read(resolve(file))));
  writeFileSync(resultsFile, `${JSON.stringify({ reports }, null, 2)}\n`);
  const table = killResumeTable(reports);
  writeFileSync(docFile, replaceBetweenMarkers(readFileSync(docFile, 'utf8'), 'kill-resume-table', table, docFile));
  console.log(table);
});
