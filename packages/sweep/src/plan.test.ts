import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { canonicalJson, planSweep, runId, runSweepLocally } from './index.js';
import { expectedValue, type CounterResult } from './test-runners/counter.js';

const here = dirname(fileURLToPath(import.meta.url));
const registry = { counter: join(here, 'test-runners', 'counter.ts') };
const scratch = mkdtempSync(join(tmpdir(), 'mm-sweep-plan-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** A runner module written for one test. */
function runnerModule(name: string, body: string): string {
  const file = join(scratch, `${name}.mjs`);
  writeFileSync(file, body);
  return file;
}

describe('run ids', () => {
  it('depend on the config as data, not on key order; differ for different configs or runners', () => {
    expect(canonicalJson({ b: 1, a: { d: [1, { f: 2, e: 3 }], c: null } })).toBe('{"a":{"c":null,"d":[1,{"e":3,"f":2}]},"b":1}');
    expect(runId('counter', { seed: 1, steps: 2 })).toBe(runId('counter', { steps: 2, seed: 1 }));
    expect(runId('counter', { seed: 1, steps: 2 })).not.toBe(runId('counter', { seed: 1, steps: 3 }));
    expect(runId('counter', { seed: 1 })).not.toBe(runId('other', { seed: 1 }));
    expect(runId('counter', { seed: 1 })).toMatch(/^counter-[0-9a-f]{20}$/);
  });

  it('refuse what JSON would change, naming where it is', () => {
    expect(() => canonicalJson({ settings: { lr: Number.NaN } })).toThrow(/config\.settings\.lr is NaN, which JSON cannot carry/);
    expect(() => canonicalJson({ when: new Date(0) })).toThrow(/config\.when is a Date object; configs must be plain JSON data/);
    expect(() => canonicalJson({ f: () => 1 })).toThrow(/config\.f is a function/);
    expect(() => runId('Bad Name', {})).toThrow(/runner 'Bad Name' is not a valid name/);
  });
});

describe('planSweep', () => {
  it('validates every config with its runner and puts a run after the runs it needs', async () => {
    const plan = await planSweep(registry, { kind: 'demo', runs: [{ runner: 'counter', config: { seed: 1, steps: 2, stepMs: 0, after: [2] } }, { runner: 'counter', config: { stepMs: 0, steps: 2, seed: 3 } }] });
    expect(plan.runs.map((r) => r.label)).toEqual(['counter seed 2', 'counter seed 1', 'counter seed 3']);
    expect(plan.runs[1].needs).toEqual([plan.runs[0].id]);
    expect(plan.runs[2].folder).toBe(join('counter', 'seed-3-steps-2'));
    expect(plan.id).toMatch(/^demo-[0-9a-f]{16}$/);
    // The same sweep written differently is the same sweep.
    const again = await planSweep(registry, { kind: 'demo', runs: [{ runner: 'counter', config: { after: [2], stepMs: 0, steps: 2, seed: 1 } }, { runner: 'counter', config: { seed: 3, steps: 2, stepMs: 0 } }] });
    expect(again.id).toBe(plan.id);
  });

  it.each([
    [{ kind: 'x', runs: [{ runner: 'counter', config: { seed: -1, steps: 2, stepMs: 0 } }] }, /run #1 \(runner 'counter'\): invalid config: seed must be an integer ≥ 0, got -1/],
    [{ kind: 'x', runs: [{ runner: 'counter', config: { seed: 1, steps: 2, stepMs: 0, sed: 2 } }] }, /invalid config: unknown field sed/],
    [{ kind: 'x', runs: [{ runner: 'nope', config: {} }] }, /run #1 \(runner 'nope'\): no runner named 'nope' is registered; registered: counter/],
    [{ kind: 'x', runs: [] }, /sweep 'x' has no runs/],
    [{ kind: 'Not OK', runs: [{ runner: 'counter', config: {} }] }, /sweep kind 'Not OK' is not a valid name/],
    [
      { kind: 'x', runs: [{ runner: 'counter', config: { seed: 1, steps: 2, stepMs: 0 } }, { runner: 'counter', config: { stepMs: 0, seed: 1, steps: 2 } }] },
      /run #2 \(runner 'counter'\) is the same run as run #1 \(runner 'counter'\) \(counter seed 1, id counter-\w+\); list each config once/,
    ],
    [
      { kind: 'x', runs: [{ runner: 'counter', config: { seed: 1, steps: 2, stepMs: 0, after: [3] } }, { runner: 'counter', config: { seed: 2, steps: 2, stepMs: 0, after: [3] } }] },
      /counter seed 3 is needed by both counter seed 1 and counter seed 2; a run can be needed by one other run only/,
    ],
  ])('refuses %j', async (spec, message) => {
    await expect(planSweep(registry, spec)).rejects.toThrow(message);
  });

  it('refuses runner modules that are not runners, runs that need themselves, and folders outside the runs directory or shared', async () => {
    const notRunner = runnerModule('not-runner', 'export const something = 1;\n');
    await expect(planSweep({ bad: notRunner }, { kind: 'x', runs: [{ runner: 'bad', config: {} }] })).rejects.toThrow(/must export `runner` \(or a default export\) with validate\(config\) and run\(config, ctx\) functions/);
    const escaping = runnerModule('escaping', "export const runner = { validate: (c) => c, run: async () => 1, folder: () => '../elsewhere' };\n");
    await expect(planSweep({ esc: escaping }, { kind: 'x', runs: [{ runner: 'esc', config: {} }] })).rejects.toThrow(/gave the folder '..\/elsewhere'; a run's folder must be relative to the runs directory and stay inside it/);
    const selfish = runnerModule('selfish', 'export const runner = { validate: (c) => c, run: async () => 1, label: () => "me", needs: (c) => [c] };\n');
    await expect(planSweep({ me: selfish }, { kind: 'x', runs: [{ runner: 'me', config: {} }] })).rejects.toThrow(/runner 'me' makes me need itself/);
    const shared = runnerModule('shared', "export const runner = { validate: (c) => c, run: async () => 1, folder: () => 'same' };\n");
    await expect(planSweep({ s: shared }, { kind: 'x', runs: [{ runner: 's', config: { a: 1 } }, { runner: 's', config: { a: 2 } }] })).rejects.toThrow(/would share the folder same/);
  });
});

describe('runSweepLocally', () => {
  it('runs a sweep here in order, and a second time reads every result back from its folder', async () => {
    const runsDir = join(scratch, 'local');
    const plan = await planSweep(registry, { kind: 'local', runs: [{ runner: 'counter', config: { seed: 5, steps: 4, stepMs: 0, after: [6] } }] });
    const first = await runSweepLocally(registry, plan, { runsDir });
    expect(first.runs.map((r) => [(r.config as { seed: number }).seed, (r.result as unknown as CounterResult).value])).toEqual([
      [6, expectedValue({ seed: 6, steps: 4 })],
      [5, expectedValue({ seed: 5, steps: 4 })],
    ]);
    const second = await runSweepLocally(registry, plan, { runsDir });
    expect(second.runs.map((r) => r.result)).toEqual(first.runs.map((r) => r.result));
    // Not run again: a run would have recorded a second attempt.
    expect((second.runs[1].result as unknown as CounterResult).attempts).toHaveLength(1);
  });
});
