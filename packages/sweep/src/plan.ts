import { isAbsolute, normalize } from 'node:path';
import { loadRunner, type RunnerRegistry, type SweepRunner } from './runner.js';
import { asJson, canonicalJson, checkName, runId, sweepId, type Json } from './run-id.js';

/** A sweep as a submitter describes it. */
export interface SweepSpec {
  /**
   * What kind of sweep this is, e.g. 'colored-mnist-table': part of its id, and what tells the
   * collecting side how to summarise the results.
   */
  kind: string;
  /** What the collecting side needs besides the runs' results (e.g. the settings for the report); JSON. */
  meta?: unknown;
  runs: readonly { runner: string; config: unknown }[];
}

export interface PlannedRun {
  /** Deterministic: the runner and a hash of the validated config. */
  id: string;
  runner: string;
  /** The config as the runner validated it. */
  config: Json;
  /** Folder relative to the runs directory. */
  folder: string;
  label: string;
  /** Ids of the runs that must finish before this one starts. */
  needs: string[];
}

/** A checked sweep, ready to submit or to run here. */
export interface SweepPlan {
  id: string;
  kind: string;
  meta: Json;
  /** The submitted runs in order, each preceded by any run it needs that was not submitted. */
  runs: PlannedRun[];
}

/** Which run of the submitted list a problem is about, for error messages. */
const which = (index: number, runner: string) => `run #${index + 1} (runner '${runner}')`;

function plannedRun(runner: SweepRunner, name: string, config: unknown, where: string): PlannedRun {
  let checked: unknown;
  try {
    checked = runner.validate(config);
  } catch (error) {
    throw new Error(`${where}: invalid config: ${(error as Error).message}`);
  }
  // The config travels through Redis as JSON: what the worker receives is this.
  const json = JSON.parse(canonicalJson(checked, `${where} config`)) as Json;
  const id = runId(name, json);
  const folder = runner.folder ? runner.folder(json) : `${name}/${id}`;
  if (isAbsolute(folder) || normalize(folder).startsWith('..')) {
    throw new Error(`${where}: runner '${name}' gave the folder '${folder}'; a run's folder must be relative to the runs directory and stay inside it`);
  }
  return { id, runner: name, config: json, folder: normalize(folder), label: runner.label ? runner.label(json) : id, needs: [] };
}

/**
 * Checks every config with its runner (`validate`), gives each run its id and folder, adds the
 * runs they need, and refuses what a queue could not run: unknown runners, malformed configs, the
 * same run twice, two runs in one folder, cycles, and a run needed by two others (BullMQ flows
 * are trees: each job has at most one parent).
 */
export async function planSweep(registry: RunnerRegistry, spec: SweepSpec): Promise<SweepPlan> {
  checkName(spec.kind, 'sweep kind');
  if (!Array.isArray(spec.runs) || spec.runs.length === 0) throw new Error(`sweep '${spec.kind}' has no runs`);
  const runs: PlannedRun[] = [];
  const byId = new Map<string, { run: PlannedRun; where: string }>();
  const neededBy = new Map<string, string>();
  const listed = new Map<string, string>();

  // Depth first, so that every run comes after the runs it needs.
  const visit = async (name: string, config: unknown, where: string, chain: string[]): Promise<PlannedRun> => {
    if (typeof name !== 'string') throw new Error(`${where}: 'runner' must be the name of a registered runner, got ${JSON.stringify(name)}`);
    const runner = await loadRunner(registry, name).catch((error: Error) => {
      throw new Error(`${where}: ${error.message}`);
    });
    const run = plannedRun(runner, name, config, where);
    if (chain.includes(run.id)) throw new Error(`${where}: runner '${name}' makes ${run.label} need itself`);
    const known = byId.get(run.id);
    if (known) return known.run;
    for (const [k, needed] of (runner.needs?.(run.config) ?? []).entries()) {
      const dependency = await visit(name, needed, `${where}, needed run ${k + 1}`, [...chain, run.id]);
      const owner = neededBy.get(dependency.id);
      if (owner !== undefined && owner !== run.id) {
        throw new Error(`${where}: ${dependency.label} is needed by both ${byId.get(owner)?.run.label ?? owner} and ${run.label}; a run can be needed by one other run only (BullMQ flows are trees)`);
      }
      neededBy.set(dependency.id, run.id);
      run.needs.push(dependency.id);
    }
    byId.set(run.id, { run, where });
    runs.push(run);
    return run;
  };

  for (const [index, entry] of spec.runs.entries()) {
    if (entry === null || typeof entry !== 'object') throw new Error(`run #${index + 1}: expected { runner, config }, got ${JSON.stringify(entry)}`);
    const where = which(index, entry.runner);
    const run = await visit(entry.runner, entry.config, where, []);
    const earlier = listed.get(run.id);
    if (earlier !== undefined) throw new Error(`${where} is the same run as ${earlier} (${run.label}, id ${run.id}); list each config once`);
    listed.set(run.id, where);
  }

  const folders = new Map<string, PlannedRun>();
  for (const run of runs) {
    const other = folders.get(run.folder);
    if (other) throw new Error(`runs ${other.label} and ${run.label} would share the folder ${run.folder}; the runner's folder() must differ between configs`);
    folders.set(run.folder, run);
  }
  // Kept in its own key order: the collector writes it back out (e.g. as a results.json's settings).
  const meta = asJson(spec.meta ?? null, 'sweep meta');
  return { id: sweepId(spec.kind, runs.map((r) => r.id), meta), kind: spec.kind, meta, runs };
}
