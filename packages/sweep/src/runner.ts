import { isAbsolute } from 'node:path';
import { pathToFileURL } from 'node:url';
import { checkName } from './run-id.js';

/** How far a run has got, for `status`. */
export interface RunProgress {
  /** 0…1. */
  fraction: number;
  /** A few words, e.g. 'epoch 2/3 step 40/93 loss 0.512'. */
  text: string;
}

/** What a runner is told besides its config. */
export interface RunContext {
  /**
   * This run's folder in the shared runs directory. Checkpoints go here: when a worker dies, the
   * worker that takes the run over gets the same folder and resumes from what it holds.
   */
  dir: string;
  /** The shared runs directory, for runs that read other runs' outputs (e.g. teacher weights). */
  runsDir: string;
  /** 1 on the first attempt, 2 on the first retry, … (a takeover after a worker died is not an attempt). */
  attempt: number;
  /** A line for the job's log (`status --logs`) and the worker's output. */
  log: (line: string) => void;
  /** Progress for `status`; sent at most every few seconds. */
  progress: (progress: RunProgress) => void;
}

/**
 * How to run one config of an experiment. A runner lives in its own module (named in a
 * {@link RunnerRegistry}) because workers import it in a separate process per run.
 */
export interface SweepRunner<C = unknown, R = unknown> {
  /**
   * Checks a config as it arrives from a submitter (plain JSON) and returns it typed. Throws an
   * Error that says which field is wrong and what it should be; called at submit, so a malformed
   * config is rejected before anything is queued, and again by the worker.
   */
  validate(config: unknown): C;
  /**
   * Runs the config to its result (plain JSON data). Must resume from what `ctx.dir` holds, so
   * that a retry or a takeover continues instead of starting over.
   */
  run(config: C, ctx: RunContext): Promise<R>;
  /**
   * The run's folder relative to the runs directory; different configs must get different
   * folders. Default: `<runner name>/<run id>`.
   */
  folder?(config: C): string;
  /** A short label for status lines, e.g. 'guided seed 2'. Default: the run id. */
  label?(config: C): string;
  /**
   * Configs (for this same runner) that must have finished before this one starts, e.g. the
   * runs that train its teachers. They join the sweep as runs of their own.
   */
  needs?(config: C): C[];
}

/** Runner name → module that exports the runner (as `runner` or as its default export). */
export type RunnerRegistry = Readonly<Record<string, string>>;

/** Types a runner in place: `export const runner = defineRunner({ validate, run, … })`. */
export function defineRunner<C, R>(runner: SweepRunner<C, R>): SweepRunner<C, R> {
  return runner;
}

/** Module specifiers may be file paths; import() wants URLs for those. */
function importable(specifier: string): string {
  return isAbsolute(specifier) ? pathToFileURL(specifier).href : specifier;
}

const loaded = new Map<string, Promise<SweepRunner>>();

/** The runner registered under `name`, imported once per process. Errors say what to fix. */
export function loadRunner(registry: RunnerRegistry, name: string): Promise<SweepRunner> {
  checkName(name, 'runner');
  const specifier = registry[name];
  if (specifier === undefined) {
    const known = Object.keys(registry);
    return Promise.reject(new Error(`no runner named '${name}' is registered${known.length ? `; registered: ${known.join(', ')}` : ' (the registry is empty)'}`));
  }
  let runner = loaded.get(specifier);
  if (!runner) {
    runner = import(importable(specifier)).then(
      (module: Record<string, unknown>) => {
        const candidate = (module.runner ?? module.default) as Partial<SweepRunner> | undefined;
        if (!candidate || typeof candidate.validate !== 'function' || typeof candidate.run !== 'function') {
          throw new Error(`runner '${name}': ${specifier} must export \`runner\` (or a default export) with validate(config) and run(config, ctx) functions`);
        }
        return candidate as SweepRunner;
      },
      (error: Error) => {
        throw new Error(`runner '${name}': cannot import ${specifier}: ${error.message}`);
      },
    );
    loaded.set(specifier, runner);
  }
  return runner;
}
