import type { ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, watch, type FSWatcher } from 'node:fs';
import { basename, join, relative } from 'node:path';
import { loadCheckpoint } from '@mm/example-kit';
import { finished, startNode, type AppSpec } from './apps.js';
import { resultDifferences } from './compare-results.js';

/** Where a kill aimed at a checkpoint write landed, read from what it left on disk. */
export type WriteMoment = 'writing the new folder' | 'between the two renames' | 'deleting the previous folder' | 'after the write';

export interface KillRecord {
  /** 'random': at a random moment; 'checkpoint': 0–300 ms after the 1st or 2nd checkpoint write of the start began. */
  aim: 'random' | 'checkpoint';
  /** Milliseconds after the start (random) or after the write began (checkpoint). */
  delayMs: number;
  /** For aimed kills: which checkpoint write of this start (1st or 2nd). */
  write?: number;
  /** For aimed kills: what the folder looked like afterwards. */
  moment?: WriteMoment;
  /** Epochs in the checkpoint the next start resumes from (summed over the app's runs). */
  epochsSaved: number;
}

export interface AppReport {
  app: string;
  args: string[];
  referenceSeconds: number;
  /** Wall-clock seconds of the whole loop for this app: fixture, uninterrupted run, every start. */
  loopSeconds?: number;
  /** Seconds from start to the first checkpoint in the reference run (the kills' time scale). */
  firstCheckpointSeconds: number;
  kills: KillRecord[];
  /** Interrupted runs taken to the end (more than one when the first finished before enough kills). */
  runs: number;
  /** Checkpoints read back after a kill (each a copy of the folder, through the kit's loadCheckpoint). */
  checkpointsRead: number;
  unreadable: string[];
  /** A resumed run that lost saved epochs (its checkpoint went back), per kill. */
  regressions: string[];
  /** Starts that failed on their own (not killed). */
  failedStarts: string[];
  /** Differences from the uninterrupted run: results.json, every epoch log and step loss, final weights. */
  differences: string[];
  /** Step losses and epoch logs compared, and weight values compared. */
  compared: { steps: number; epochs: number; weights: number };
  leftovers: string[];
  ok: boolean;
}

export interface KillResumeOptions {
  /** Kills per app (at least). */
  kills: number;
  seed: number;
  /** Scratch folder (fixtures, runs). */
  work: string;
  log: (line: string) => void;
}

/** Mulberry32: the kill schedule is reproducible for a seed. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const CHECKPOINT_ENTRY = /^checkpoint(\.(tmp|old)-\d+)?$/;

/** Folders that hold a run's checkpoint (or what a killed writer left of one). */
export function checkpointParents(dir: string, depth = 3): string[] {
  if (!existsSync(dir) || depth < 0) return [];
  const entries = readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory());
  const here = entries.some((e) => CHECKPOINT_ENTRY.test(e.name)) ? [dir] : [];
  return [...here, ...entries.filter((e) => !CHECKPOINT_ENTRY.test(e.name)).flatMap((e) => checkpointParents(join(dir, e.name), depth - 1))];
}

/**
 * Reads the checkpoint a resumed run would read, on a copy (loadCheckpoint puts back an
 * interrupted write's previous folder): its epoch count, or 0 when there is none yet.
 */
export function readCheckpointCopy(parent: string, scratch: string): number {
  rmSync(scratch, { recursive: true, force: true });
  mkdirSync(scratch, { recursive: true });
  for (const name of readdirSync(parent)) if (CHECKPOINT_ENTRY.test(name)) cpSync(join(parent, name), join(scratch, name), { recursive: true });
  const checkpoint = loadCheckpoint<{ epochs: unknown[] }>(scratch);
  return checkpoint?.loop.epochs.length ?? 0;
}

/** What an aimed kill left: the writer's temporary folder, its `.old-*`, or neither. */
function writeMoment(parents: string[], pid: number): WriteMoment {
  for (const parent of parents) {
    const names = readdirSync(parent);
    if (names.includes(`checkpoint.tmp-${pid}`) && !names.includes(`checkpoint.old-${pid}`)) return 'writing the new folder';
    if (names.includes(`checkpoint.old-${pid}`)) return names.includes('checkpoint') ? 'deleting the previous folder' : 'between the two renames';
  }
  return 'after the write';
}

/**
 * Calls `onWrite` whenever process `pid` begins a checkpoint write under `dir` (its temporary
 * folder appears). Node 20's recursive watch on Linux scans every new folder and emits an
 * 'error' (ENOENT) when the folder is already gone, as the writers' `.tmp-*` and `.old-*` folders
 * often are: unhandled, that ended the whole loop. A vanished folder is expected; other watch
 * errors are logged, and at worst an aimed kill does not come and that start runs to its end.
 */
export function watchCheckpointWrites(dir: string, pid: number, log: (line: string) => void, onWrite: () => void): FSWatcher {
  const watcher = watch(dir, { recursive: true }, (event, file) => {
    if (event === 'rename' && file && basename(file.toString()) === `checkpoint.tmp-${pid}` && existsSync(join(dir, file.toString()))) onWrite();
  });
  watcher.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'ENOENT') log(`watching ${dir}: ${error.message}`);
  });
  return watcher;
}

interface Started {
  child: ChildProcess;
  done: ReturnType<typeof finished>;
  started: number;
}

function start(app: AppSpec, args: string[]): Started {
  const child = startNode(app.cwd, app.entry, [...args, '--quiet', '--backend', 'wasm']);
  return { child, done: finished(child), started: Date.now() };
}

/** Runs the app uninterrupted; notes when its first checkpoint appeared. */
async function referenceRun(app: AppSpec, args: string[], dir: string): Promise<{ seconds: number; firstCheckpointSeconds: number }> {
  const run = start(app, [...args, '--out', dir]);
  let first = 0;
  const poll = setInterval(() => {
    if (!first && checkpointParents(dir).some((p) => existsSync(join(p, 'checkpoint', 'state.json')))) first = Date.now() - run.started;
  }, 100);
  const { code, stderr } = await run.done;
  clearInterval(poll);
  if (code !== 0) throw new Error(`${app.name}: the uninterrupted run failed (exit ${code}): ${stderr}`);
  return { seconds: (Date.now() - run.started) / 1000, firstCheckpointSeconds: first / 1000 };
}

/** Epoch logs, step losses and final weights of every checkpoint of two run folders. */
function compareCheckpoints(reference: string, run: string, report: AppReport): void {
  for (const parent of checkpointParents(reference)) {
    const path = relative(reference, parent);
    const a = loadCheckpoint<{ epochs: unknown[]; steps?: unknown[] }>(parent);
    const b = loadCheckpoint<{ epochs: unknown[]; steps?: unknown[] }>(join(run, path));
    if (!a || !b) {
      report.differences.push(`${path}: checkpoint missing (${a ? 'interrupted' : 'reference'} run)`);
      continue;
    }
    report.differences.push(...resultDifferences(a.loop, b.loop).map((d) => `${path}/checkpoint loop.${d}`));
    report.compared.epochs += a.loop.epochs.length;
    report.compared.steps += a.loop.steps?.length ?? 0;
    for (const [name, t] of Object.entries(a.trainer.tensors)) {
      const other = b.trainer.tensors[name];
      if (!other) {
        report.differences.push(`${path}: tensor ${name} missing`);
        continue;
      }
      report.differences.push(...resultDifferences(Array.from(t.data), Array.from(other.data), 1e-5, 3).map((d) => `${path}: tensor ${name}${d}`));
      report.compared.weights += t.data.length;
    }
  }
}

/**
 * Kills the app with SIGKILL again and again — at random moments, and a few milliseconds after
 * a checkpoint write began — and resumes it with `--resume` until it finishes, then compares
 * everything it computed with an uninterrupted run. After every kill the checkpoint a resume
 * would read is read back, and must hold at least the epochs saved before.
 */
export async function killAndResume(app: AppSpec, options: KillResumeOptions): Promise<AppReport> {
  const loopStarted = Date.now();
  const work = join(options.work, app.name);
  mkdirSync(work, { recursive: true });
  const args = [...(await app.prepare(options.work)), ...app.args];
  const referenceDir = join(work, 'reference');
  rmSync(referenceDir, { recursive: true, force: true });
  options.log(`${app.name}: uninterrupted run`);
  const reference = await referenceRun(app, args, referenceDir);
  options.log(`${app.name}: ${reference.seconds.toFixed(1)} s, first checkpoint after ${reference.firstCheckpointSeconds.toFixed(1)} s`);
  const report: AppReport = {
    app: app.name,
    args,
    referenceSeconds: reference.seconds,
    firstCheckpointSeconds: reference.firstCheckpointSeconds,
    kills: [],
    runs: 0,
    checkpointsRead: 0,
    unreadable: [],
    regressions: [],
    failedStarts: [],
    differences: [],
    compared: { steps: 0, epochs: 0, weights: 0 },
    leftovers: [],
    ok: false,
  };
  const next = random(options.seed);
  // A restart reaches its next checkpoint after about the time to the first one plus an epoch:
  // random kills fall within 0.2–1.3 × that, so some land before and some after it.
  const epochMs = ((reference.seconds - reference.firstCheckpointSeconds) / Math.max(1, app.checkpoints - 1)) * 1000;
  const scale = reference.firstCheckpointSeconds * 1000 + epochMs;

  while (report.kills.length < options.kills) {
    const dir = join(work, `run-${++report.runs}`);
    rmSync(dir, { recursive: true, force: true });
    const saved = new Map<string, number>();
    for (let attempt = 0; ; attempt++) {
      // Killed before it saved its settings, a run has nothing to resume: it is started again, as a user would.
      const run = start(app, existsSync(join(dir, 'config.json')) ? [...args, '--resume', dir] : [...args, '--out', dir]);
      const aim: KillRecord['aim'] | undefined = report.kills.length >= options.kills ? undefined : report.kills.length % 2 === 0 ? 'random' : 'checkpoint';
      let delayMs = 0;
      let writeIndex: number | undefined;
      let timer: NodeJS.Timeout | undefined;
      let watcher: FSWatcher | undefined;
      const kill = () => run.child.kill('SIGKILL');
      if (aim === 'random') {
        delayMs = Math.round((0.2 + 1.1 * next()) * scale);
        timer = setTimeout(kill, delayMs);
      } else if (aim === 'checkpoint') {
        // The first or the second write of this start, 0–300 ms after its temporary folder
        // appeared: within the write or just after it, depending on the checkpoint's size.
        delayMs = Math.round(300 * next());
        writeIndex = 1 + Math.floor(2 * next());
        let writes = 0;
        mkdirSync(dir, { recursive: true });
        watcher = watchCheckpointWrites(dir, run.child.pid!, options.log, () => {
          if (++writes === writeIndex && !timer) timer = setTimeout(kill, delayMs);
        });
      }
      const { code, signal, stderr } = await run.done;
      if (timer) clearTimeout(timer);
      watcher?.close();
      if (signal !== 'SIGKILL') {
        if (code !== 0) {
          report.failedStarts.push(`${dir} attempt ${attempt}: exit ${code ?? signal}: ${stderr.slice(-600)}`);
          report.loopSeconds = (Date.now() - loopStarted) / 1000;
          return report;
        }
        break;
      }
      const parents = checkpointParents(dir);
      const record: KillRecord = { aim: aim!, delayMs, epochsSaved: 0, ...(writeIndex ? { write: writeIndex } : {}) };
      if (aim === 'checkpoint') record.moment = writeMoment(parents, run.child.pid!);
      for (const parent of parents) {
        const path = relative(dir, parent);
        try {
          const epochs = readCheckpointCopy(parent, join(work, 'read-back'));
          report.checkpointsRead++;
          if (epochs < (saved.get(path) ?? 0)) report.regressions.push(`${dir}/${path}: ${saved.get(path)} epochs saved before kill ${report.kills.length + 1}, ${epochs} after`);
          saved.set(path, Math.max(epochs, saved.get(path) ?? 0));
          record.epochsSaved += epochs;
        } catch (error) {
          report.unreadable.push(`${dir}/${path} after kill ${report.kills.length + 1}: ${(error as Error).message}`);
        }
      }
      report.kills.push(record);
      options.log(`${app.name}: kill ${report.kills.length} (${aim}${record.moment ? `, ${record.moment}` : ''}, ${delayMs} ms): ${record.epochsSaved} epoch(s) saved`);
    }
    report.differences.push(...resultDifferences(JSON.parse(readFileSync(join(referenceDir, 'results.json'), 'utf8')), JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8'))).map((d) => `results.json ${d}`));
    compareCheckpoints(referenceDir, dir, report);
    report.leftovers.push(...findLeftovers(dir));
    options.log(`${app.name}: run ${report.runs} finished after ${report.kills.length} kill(s) in all; ${report.differences.length} difference(s) from the uninterrupted run`);
  }
  report.loopSeconds = (Date.now() - loopStarted) / 1000;
  report.ok = report.kills.length >= options.kills && report.unreadable.length === 0 && report.regressions.length === 0 && report.failedStarts.length === 0 && report.differences.length === 0;
  return report;
}

/** Temporary files and folders a finished run still holds (`*.tmp-<pid>`, `*.old-<pid>`). */
function findLeftovers(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const path = join(d, name);
      if (/\.(tmp|old)-\d+$/.test(name)) out.push(relative(dir, path));
      else if (statSync(path).isDirectory()) walk(path);
    }
  };
  walk(dir);
  return out;
}
