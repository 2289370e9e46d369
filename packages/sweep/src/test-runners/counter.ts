/**
 * A runner for the tests: a deterministic "training" of `steps` steps (a seeded integer
 * recurrence) that checkpoints after every step and resumes from its checkpoint, so the tests
 * can kill, fail and retry real runs in real processes in seconds.
 */
import { appendFileSync, existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { defineRunner } from '../runner.js';

export interface CounterConfig {
  seed: number;
  steps: number;
  /** Milliseconds per step (a slow step stands for training). */
  stepMs: number;
  /** Throw once at this step (the first attempt that gets there), to test retries. */
  failOnceAtStep?: number;
  /** Throw at `step` on every attempt while `file` (in the runs directory) exists: a broken environment, fixed by deleting it. */
  failWhileExists?: { file: string; step: number };
  /** Seeds of runs (same steps and speed) that must finish before this one starts. */
  after?: number[];
}

/** One attempt at the run, as recorded in its folder: who ran it and from which step. */
export interface CounterAttempt {
  attempt: number;
  /** The worker process (the training process's parent). */
  workerPid: number;
  /** The training process. */
  pid: number;
  fromStep: number;
}

export interface CounterResult {
  value: number;
  steps: number;
  attempts: CounterAttempt[];
}

const writeJson = (file: string, value: unknown) => {
  writeFileSync(`${file}.tmp`, JSON.stringify(value));
  renameSync(`${file}.tmp`, file);
};
const readJson = <T>(file: string, fallback: T): T => (existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as T) : fallback);

const next = (value: number) => (Math.imul(value, 1103515245) + 12345) & 0x7fffffff;

function integer(config: Record<string, unknown>, key: string, min: number): number {
  const v = config[key];
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) throw new Error(`${key} must be an integer ≥ ${min}, got ${JSON.stringify(v)}`);
  return v;
}

function integerList(value: unknown, key: string): number[] {
  if (!Array.isArray(value)) throw new Error(`${key} must be a list of seeds, got ${JSON.stringify(value)}`);
  return value.map((v, i) => {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) throw new Error(`${key}[${i}] must be an integer ≥ 0, got ${JSON.stringify(v)}`);
    return v;
  });
}

function failWhileExists(value: unknown): { file: string; step: number } {
  const v = value as { file?: unknown; step?: unknown } | null;
  if (!v || typeof v.file !== 'string' || !/^[\w.-]+$/.test(v.file)) throw new Error(`failWhileExists.file must be a plain file name, got ${JSON.stringify(v?.file)}`);
  return { file: v.file, step: integer(v as Record<string, unknown>, 'step', 0) };
}

export const runner = defineRunner<CounterConfig, CounterResult>({
  validate(config) {
    if (config === null || typeof config !== 'object' || Array.isArray(config)) throw new Error(`expected an object { seed, steps, stepMs }, got ${JSON.stringify(config)}`);
    const c = config as Record<string, unknown>;
    const unknown = Object.keys(c).filter((k) => !['seed', 'steps', 'stepMs', 'failOnceAtStep', 'failWhileExists', 'after'].includes(k));
    if (unknown.length) throw new Error(`unknown field ${unknown.join(', ')}`);
    return {
      seed: integer(c, 'seed', 0),
      steps: integer(c, 'steps', 1),
      stepMs: integer(c, 'stepMs', 0),
      ...(c.failOnceAtStep !== undefined ? { failOnceAtStep: integer(c, 'failOnceAtStep', 0) } : {}),
      ...(c.failWhileExists !== undefined ? { failWhileExists: failWhileExists(c.failWhileExists) } : {}),
      ...(c.after !== undefined ? { after: integerList(c.after, 'after') } : {}),
    };
  },
  label: (c) => `counter seed ${c.seed}`,
  folder: (c) => `counter/seed-${c.seed}-steps-${c.steps}${c.failOnceAtStep !== undefined ? `-fail-once-${c.failOnceAtStep}` : ''}${c.failWhileExists !== undefined ? `-fail-while-${c.failWhileExists.file}` : ''}${c.after?.length ? `-after-${c.after.join('-')}` : ''}`,
  needs: (c) => (c.after ?? []).map((seed) => ({ seed, steps: c.steps, stepMs: c.stepMs })),
  async run(config, ctx) {
    const checkpoint = join(ctx.dir, 'checkpoint.json');
    const history = join(ctx.dir, 'attempts.json');
    let { step, value } = readJson(checkpoint, { step: 0, value: config.seed });
    const attempts = [...readJson<CounterAttempt[]>(history, []), { attempt: ctx.attempt, workerPid: process.ppid, pid: process.pid, fromStep: step }];
    writeJson(history, attempts);
    ctx.log(`from step ${step}`);
    while (step < config.steps) {
      if (step === config.failOnceAtStep && !existsSync(join(ctx.dir, 'failed-once'))) {
        writeFileSync(join(ctx.dir, 'failed-once'), '');
        throw new Error(`simulated failure at step ${step}`);
      }
      if (config.failWhileExists && step === config.failWhileExists.step && existsSync(join(ctx.runsDir, config.failWhileExists.file))) {
        throw new Error(`${config.failWhileExists.file} exists (simulated broken environment) at step ${step}`);
      }
      await sleep(config.stepMs);
      value = next(value);
      step++;
      writeJson(checkpoint, { step, value });
      // Who wrote which step: a test checks that a dead worker's training process wrote no more.
      appendFileSync(join(ctx.dir, 'steps.log'), `${process.pid} ${step}\n`);
      ctx.progress({ fraction: step / config.steps, text: `step ${step}/${config.steps}` });
    }
    return { value, steps: step, attempts };
  },
});

/** The result without any queue: what every run of `config` must give. */
export function expectedValue(config: Pick<CounterConfig, 'seed' | 'steps'>): number {
  let value = config.seed;
  for (let i = 0; i < config.steps; i++) value = next(value);
  return value;
}
