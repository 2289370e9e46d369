#!/usr/bin/env node
// Runs the whole vitest suite and ends with one plain summary line ("N passed, N failed"),
// which CI reads; vitest's own summary is printed above it as usual.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const dir = mkdtempSync(join(tmpdir(), 'mm-vitest-'));
const report = join(dir, 'report.json');
const result = spawnSync(
  'pnpm',
  ['exec', 'vitest', 'run', '--reporter=default', '--reporter=json', `--outputFile.json=${report}`, ...process.argv.slice(2)],
  { stdio: 'inherit' },
);
let summary;
try {
  const json = JSON.parse(readFileSync(report, 'utf8'));
  const skipped = json.numPendingTests + json.numTodoTests;
  summary = `tests: ${json.numPassedTests} passed, ${json.numFailedTests} failed` + (skipped ? `, ${skipped} skipped` : '');
  if (json.numTotalTests === 0) {
    summary += ' (no tests ran)';
    result.status ||= 1;
  }
} catch {
  summary = 'tests: 0 passed, 1 failed (vitest wrote no report)';
  result.status ||= 1;
}
rmSync(dir, { recursive: true, force: true });
console.log(summary);
process.exit(result.status ?? 1);
