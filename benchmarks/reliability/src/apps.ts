import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = resolve(fileURLToPath(new URL('.', import.meta.url)), '../../..');

/** One example's command line at the smallest scale that still has several epochs. */
export interface AppSpec {
  name: string;
  /** The example's folder (its node_modules resolve the workspace packages). */
  cwd: string;
  entry: string;
  /** Makes the generated fixture the app trains on (if any) in `work`; returns the options that point at it. */
  prepare(work: string): Promise<string[]>;
  /** Options of a new run (before --out). */
  args: string[];
  /** Epoch checkpoints an uninterrupted run writes. */
  checkpoints: number;
}

const example = (name: string) => join(REPO, 'examples', name);

/** Runs one of an example's package scripts (its fixture writer) to the end. */
async function runScript(cwd: string, entry: string, args: string[]): Promise<void> {
  const child = startNode(cwd, entry, args);
  const { code, stderr } = await finished(child);
  if (code !== 0) throw new Error(`${entry} ${args.join(' ')} failed (exit ${code}): ${stderr}`);
}

export const APPS: Record<string, AppSpec> = {
  'colored-mnist': {
    name: 'colored-mnist',
    cwd: example('colored-mnist'),
    entry: 'src/main.ts',
    prepare: async () => [],
    // The main job (Table 1) with two of its methods, 4 epochs each, on 640 samples and narrow convs.
    args: ['--methods', 'vanilla,guided', '--seeds', '1', '--epochs', '4', '--train-size', '640', '--batch-size', '32', '--widths', '4,4,8,8'],
    checkpoints: 8,
  },
  modelnet40: {
    name: 'modelnet40',
    cwd: example('modelnet40'),
    entry: 'src/main.ts',
    prepare: async (work) => {
      const data = join(work, 'modelnet40-data');
      if (!existsSync(data)) await runScript(example('modelnet40'), 'src/make-fixture.ts', [data, '3', '4', '2', '32']);
      return ['--data', data];
    },
    args: ['--image-size', '32', '--epochs', '6', '--batch-size', '4', '--lr', '0.01'],
    checkpoints: 6,
  },
  nvgesture: {
    name: 'nvgesture',
    cwd: example('nvgesture'),
    entry: 'src/main.ts',
    prepare: async (work) => {
      const data = join(work, 'nvgesture-data');
      if (!existsSync(data)) await runScript(example('nvgesture'), 'src/make-fixture.ts', [data]);
      return ['--data', data];
    },
    args: ['--frames', '8', '--size', '32', '--batch-size', '2', '--epochs', '3'],
    checkpoints: 3,
  },
  balancers: {
    name: 'balancers',
    cwd: example('colored-mnist'),
    entry: 'src/balancers-main.ts',
    prepare: async () => [],
    // The balancer benchmark with two methods that keep state between steps (OGM-GE's
    // coefficients, PMR's prototypes), one seed, 3 epochs each.
    args: ['--methods', 'ogm-ge,pmr', '--seeds', '1', '--epochs', '3', '--train-size', '600'],
    checkpoints: 6,
  },
};

/** Starts `node` on a TypeScript entry as the examples' own scripts do (sources through tsx, one wasm thread). */
export function startNode(cwd: string, entry: string, args: string[], env: NodeJS.ProcessEnv = {}, user?: { uid: number; gid: number }): ChildProcess {
  return spawn(process.execPath, ['--conditions=@mm/source', '--import', 'tsx', entry, ...args], {
    cwd,
    env: { ...process.env, MM_WASM_THREADS: '1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    ...user,
  });
}

/** Waits for a child to end; keeps the last lines of its stderr for messages. */
export function finished(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }> {
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString('utf8')).slice(-4000);
  });
  child.stdout?.resume();
  return new Promise((resolveExit) => child.on('close', (code, signal) => resolveExit({ code, signal, stderr })));
}
