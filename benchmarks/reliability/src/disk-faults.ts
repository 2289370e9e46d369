import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { finished, startNode, type AppSpec } from './apps.js';
import { resultDifferences } from './compare-results.js';
import { checkpointParents, readCheckpointCopy } from './kill-resume.js';

export type DiskFault = 'disk full (tmpfs filled)' | 'read-only mount (tmpfs remounted ro)' | 'folder made read-only (chmod 555, run as nobody)';

export interface DiskFaultReport {
  fault: DiskFault;
  /** Epochs in the checkpoint when the fault was made. */
  epochsBefore: number;
  exitCode: number | null;
  /** The run's last error line. */
  error: string;
  /** Epochs in the checkpoint after the failed write: the last good one kept. */
  epochsAfter: number;
  /** After the fault was lifted: resumed to the end, and the same results as an uninterrupted run. */
  resumed: boolean;
  differences: string[];
  ok: boolean;
}

const NOBODY = 65534;

function waitFor(test: () => boolean, timeoutMs: number): Promise<boolean> {
  const started = Date.now();
  return new Promise((resolve) => {
    const poll = setInterval(() => {
      if (test() || Date.now() - started > timeoutMs) {
        clearInterval(poll);
        resolve(test());
      }
    }, 50);
  });
}

/** Writes zeros until the file system is full. */
function fillDisk(file: string): void {
  const fd = openSync(file, 'w');
  const block = Buffer.alloc(64 * 1024);
  try {
    for (;;) writeSync(fd, block);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOSPC') throw error;
  } finally {
    closeSync(fd);
  }
}

function savedEpochs(runDir: string, scratch: string): number {
  return checkpointParents(runDir).reduce((n, parent) => n + readCheckpointCopy(parent, scratch), 0);
}

/**
 * Starts the app, waits for its first checkpoint, then makes the output folder unwritable (full,
 * read-only mount, or no write permission) so the next checkpoint write fails; checks the error
 * says what happened and the last good checkpoint is kept; lifts the fault, resumes, and compares
 * the results with an uninterrupted run.
 */
export async function diskFault(app: AppSpec, fault: DiskFault, o: { work: string; args: string[]; reference: unknown; log: (line: string) => void }): Promise<DiskFaultReport> {
  const base = join(o.work, fault.split(' ')[0] + '-' + fault.split(' ')[1]);
  rmSync(base, { recursive: true, force: true });
  mkdirSync(base, { recursive: true });
  const mounted = fault !== 'folder made read-only (chmod 555, run as nobody)';
  // A small tmpfs: room for the run and its checkpoints, not for much more.
  if (mounted) execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64M', 'tmpfs', base]);
  const run = join(base, 'run');
  const asNobody = !mounted;
  if (asNobody) {
    mkdirSync(run);
    chownSync(run, NOBODY, NOBODY);
  }
  const scratch = join(o.work, 'read-back');
  const report: DiskFaultReport = { fault, epochsBefore: 0, exitCode: null, error: '', epochsAfter: 0, resumed: false, differences: [], ok: false };
  try {
    const child = startNode(app.cwd, app.entry, [...o.args, '--out', run, '--quiet', '--backend', 'wasm'], {}, asNobody ? { uid: NOBODY, gid: NOBODY } : undefined);
    const done = finished(child);
    const saved = await waitFor(() => checkpointParents(run).some((p) => existsSync(join(p, 'checkpoint', 'state.json'))), 300_000);
    if (!saved) throw new Error(`${fault}: no checkpoint appeared`);
    // Stop the process while the fault is made, so that the next write meets it.
    child.kill('SIGSTOP');
    report.epochsBefore = savedEpochs(run, scratch);
    if (fault === 'disk full (tmpfs filled)') fillDisk(join(base, 'filler'));
    if (fault === 'read-only mount (tmpfs remounted ro)') execFileSync('mount', ['-o', 'remount,ro', base]);
    if (asNobody) for (const parent of checkpointParents(run)) chmodSync(parent, 0o555);
    child.kill('SIGCONT');
    const { code, stderr } = await done;
    report.exitCode = code;
    report.error = stderr.trim().split('\n').filter((l) => l.startsWith('error:')).at(-1) ?? stderr.trim().split('\n').at(-1) ?? '';
    report.epochsAfter = savedEpochs(run, scratch);
    o.log(`${fault}: exit ${code}, ${report.error}; ${report.epochsBefore} epoch(s) saved before, ${report.epochsAfter} after`);

    if (fault === 'disk full (tmpfs filled)') rmSync(join(base, 'filler'));
    if (fault === 'read-only mount (tmpfs remounted ro)') execFileSync('mount', ['-o', 'remount,rw', base]);
    if (asNobody) for (const parent of checkpointParents(run)) chmodSync(parent, 0o755);
    const resumed = await finished(startNode(app.cwd, app.entry, [...o.args, '--resume', run, '--quiet', '--backend', 'wasm'], {}, asNobody ? { uid: NOBODY, gid: NOBODY } : undefined));
    report.resumed = resumed.code === 0;
    if (!report.resumed) report.differences.push(`resume failed (exit ${resumed.code}): ${resumed.stderr.slice(-400)}`);
    else report.differences = resultDifferences(o.reference, JSON.parse(readFileSync(join(run, 'results.json'), 'utf8')));
  } finally {
    if (mounted) execFileSync('umount', [base]);
  }
  const expected = fault.startsWith('disk full') ? /ENOSPC.*the disk is full/ : /(EROFS|EACCES).*the folder is not writable/;
  report.ok = report.exitCode === 1 && expected.test(report.error) && /folder is kept/.test(report.error) && report.epochsAfter >= report.epochsBefore && report.epochsAfter > 0 && report.resumed && report.differences.length === 0;
  return report;
}
