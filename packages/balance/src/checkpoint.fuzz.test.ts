import fc from 'fast-check';
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { initBackend } from '@mm/backend';
import { beforeAll, describe, expect, it } from 'vitest';
import { BalancedTrainer, type TrainerCheckpoint } from './balanced-trainer.js';
import type { Balancer } from './balancer.js';
import { CheckpointError, TrainingDivergedError } from './errors.js';
import { Agm } from './methods/agm.js';
import { Greedy } from './methods/greedy.js';
import { Mla } from './methods/mla.js';
import { OgmGe } from './methods/ogm-ge.js';
import { Pmr } from './methods/pmr.js';
import { Vanilla } from './methods/vanilla.js';
import { GuidedScheduler, RandomScheduler, schedulerFromJSON, type SchedulerState } from './schedulers.js';
import { disposeBatch, tinyBatch, tinyLateModel, tinyMmtmModel, tinySharedHeadModel } from './testing/fixtures.js';

beforeAll(async () => {
  await initBackend({ backend: 'wasm', log: false });
});

interface Setup {
  name: string;
  model: () => tfl.LayersModel;
  balancer: () => Balancer;
}

const SETUPS: Setup[] = [
  { name: 'vanilla', model: () => tinyLateModel(3), balancer: () => new Vanilla() },
  { name: 'guided', model: () => tinyMmtmModel(3), balancer: () => new Greedy({ scheduler: new GuidedScheduler({ alpha: 0, windowSize: 3, warmupSteps: 1 }) }) },
  { name: 'random', model: () => tinyMmtmModel(3), balancer: () => new Greedy({ scheduler: new RandomScheduler({ warmupSteps: 1, seed: 4 }) }) },
  { name: 'ogm-ge', model: () => tinyLateModel(3), balancer: () => new OgmGe({ alpha: 0.5, seed: 2 }) },
  { name: 'agm', model: () => tinyLateModel(3), balancer: () => new Agm() },
  { name: 'pmr', model: () => tinyLateModel(3), balancer: () => new Pmr() },
  { name: 'mla', model: () => tinySharedHeadModel(3), balancer: () => new Mla() },
];

const make = (setup: Setup) => new BalancedTrainer({ model: setup.model(), optimizer: tf.train.momentum(0.02, 0.9), balancer: setup.balancer(), warn: () => {} });

function release(trainer: BalancedTrainer): void {
  trainer.dispose();
  trainer.model.dispose();
}

/** A deep copy (typed arrays copied too) that a test may tamper with. */
function copy(checkpoint: TrainerCheckpoint): TrainerCheckpoint {
  return {
    format: checkpoint.format,
    json: structuredClone(checkpoint.json),
    tensors: Object.fromEntries(Object.entries(checkpoint.tensors).map(([k, t]) => [k, { shape: [...t.shape], dtype: t.dtype, data: t.data.slice() }])),
  };
}

/** A trained trainer's checkpoint, as an app would write it after 4 steps with an epoch start. */
async function trainedCheckpoint(setup: Setup): Promise<TrainerCheckpoint> {
  const trainer = make(setup);
  await trainer.startEpoch({ epoch: 0, stepsPerEpoch: 4, train: () => [tinyBatch(100), tinyBatch(101)] });
  for (let s = 0; s < 4; s++) {
    const b = tinyBatch(s);
    trainer.step(b);
    disposeBatch(b);
  }
  const checkpoint = copy(await trainer.checkpoint());
  release(trainer);
  return checkpoint;
}

/** Everything a trainer holds, for "nothing changed" checks. */
async function snapshot(trainer: BalancedTrainer): Promise<string> {
  const c = await trainer.checkpoint();
  return JSON.stringify({ ...c, tensors: Object.fromEntries(Object.entries(c.tensors).map(([k, t]) => [k, [t.shape, t.dtype, Array.from(t.data)]])) });
}

type Tamper = (c: TrainerCheckpoint) => void;

/** A path into the checkpoint's JSON, picked by numbers so that it can be shrunk. */
function jsonPaths(value: unknown, prefix: (string | number)[] = []): (string | number)[][] {
  if (value === null || typeof value !== 'object') return [prefix];
  const entries = Array.isArray(value) ? value.map((v, i) => [i, v] as const) : Object.entries(value);
  return [prefix, ...entries.flatMap(([k, v]) => jsonPaths(v, [...prefix, k]))];
}

function setAt(root: Record<string, unknown>, path: (string | number)[], value: unknown): void {
  if (path.length === 0) return;
  let at = root as Record<string | number, unknown>;
  for (const key of path.slice(0, -1)) at = at[key] as Record<string | number, unknown>;
  if (value === undefined) delete at[path[path.length - 1]];
  else at[path[path.length - 1]] = value;
}

/** One change to a checkpoint, as data (so that a counterexample says what it was). */
type Change =
  | { kind: 'json'; pick: number; value: unknown }
  | { kind: 'tensor'; pick: number; how: 'shape' | 'transpose' | 'dtype' | 'nan' | 'infinity' | 'short' | 'delete' | 'rename'; at: number }
  | { kind: 'whole'; what: 'format' | 'json' | 'tensors' };

function apply(c: TrainerCheckpoint, change: Change): void {
  if (change.kind === 'whole') {
    if (change.what === 'format') (c as { format: string }).format = 'mm-balance-trainer/2';
    if (change.what === 'json') (c as unknown as { json: null }).json = null;
    if (change.what === 'tensors') (c as unknown as { tensors: unknown }).tensors = [];
    return;
  }
  if (change.kind === 'json') {
    // Any field of the JSON part replaced (or removed) by any JSON value.
    if (c.json === null || typeof c.json !== 'object') return;
    const paths = jsonPaths(c.json);
    setAt(c.json as unknown as Record<string, unknown>, paths[change.pick % paths.length], change.value);
    return;
  }
  // A tensor with another shape, dtype, a value that is not finite, values missing, or gone.
  const names = c.tensors !== null && typeof c.tensors === 'object' ? Object.keys(c.tensors).sort() : [];
  if (names.length === 0) return;
  const name = names[change.pick % names.length];
  const t = c.tensors[name];
  const { how, at } = change;
  if (how === 'shape') t.shape = t.shape.length === 0 ? [2] : t.shape.map((d, i) => (i === 0 ? d + 1 : d));
  if (how === 'transpose') t.shape = [...t.shape].reverse();
  if (how === 'dtype') c.tensors[name] = t.dtype === 'float32' ? { ...t, dtype: 'int32', data: Int32Array.from(t.data) } : { ...t, dtype: 'float32', data: Float32Array.from(t.data) };
  if ((how === 'nan' || how === 'infinity') && t.data.length > 0 && t.dtype === 'float32') t.data[at % t.data.length] = how === 'nan' ? Number.NaN : Number.POSITIVE_INFINITY;
  if (how === 'short') t.data = t.data.slice(0, Math.max(0, t.data.length - 1));
  if (how === 'delete') delete c.tensors[name];
  if (how === 'rename') {
    delete c.tensors[name];
    c.tensors[`${name}_x`] = t;
  }
}

const change: fc.Arbitrary<Change> = fc.oneof(
  fc.record({ kind: fc.constant('json' as const), pick: fc.nat(), value: fc.oneof(fc.jsonValue(), fc.constant(undefined), fc.constantFrom(-1, 1.5, 1e300, Number.NaN, '3')) }),
  fc.record({ kind: fc.constant('tensor' as const), pick: fc.nat(), how: fc.constantFrom('shape' as const, 'transpose' as const, 'dtype' as const, 'nan' as const, 'infinity' as const, 'short' as const, 'delete' as const, 'rename' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('whole' as const), what: fc.constantFrom('format' as const, 'json' as const, 'tensors' as const) }),
);

describe('trainer checkpoints, tampered', () => {
  for (const setup of SETUPS) {
    it(`${setup.name}: any tampered field or tensor is a CheckpointError that changes nothing, or a checkpoint that still restores`, async () => {
      const good = await trainedCheckpoint(setup);
      const target = make(setup);
      // A trainer that has trained a little itself, so that "unchanged" means something.
      await target.restore(copy(good));
      const b = tinyBatch(50);
      target.step(b);
      disposeBatch(b);
      const tensorsBefore = tf.memory().numTensors;
      await fc.assert(
        fc.asyncProperty(fc.array(change, { minLength: 1, maxLength: 3 }), async (changes) => {
          const before = await snapshot(target);
          const c = copy(good);
          for (const x of changes) apply(c, x);
          let error: unknown;
          try {
            await target.restore(c);
          } catch (e) {
            error = e;
          }
          if (error !== undefined) {
            expect(error).toBeInstanceOf(CheckpointError);
            expect(await snapshot(target)).toBe(before);
          } else {
            // Accepted: the counters it set are sane, and a step runs or says what the method
            // still needs (PMR restored from before its first epoch wants startEpoch). Values that
            // are valid but absurd (a score of 1e300) may make the first step diverge: then the
            // step must stop with TrainingDivergedError before it changes anything.
            expect(Number.isSafeInteger(target.steps) && target.steps >= 0).toBe(true);
            const restored = await snapshot(target);
            const batch = tinyBatch(60);
            let stepError: unknown;
            try {
              target.step(batch);
            } catch (e) {
              stepError = e;
            } finally {
              disposeBatch(batch);
            }
            if (stepError instanceof TrainingDivergedError) {
              expect(await snapshot(target)).toBe(restored);
            } else if (stepError !== undefined) {
              expect(stepError).not.toBeInstanceOf(TypeError);
              expect(stepError).not.toBeInstanceOf(RangeError);
              expect((stepError as Error).message).toMatch(/startEpoch/);
            }
            await target.restore(copy(good));
          }
        }),
        { numRuns: Math.max(20, Math.round(fc.readConfigureGlobal().numRuns! / 2)) },
      );
      expect(tf.memory().numTensors).toBe(tensorsBefore);
      release(target);
    });
  }
});

describe('trainer checkpoints, hostile cases', () => {
  it('truncated, from another version, tampered shapes and values: a CheckpointError before anything changes', async () => {
    const setup = SETUPS[1];
    const good = await trainedCheckpoint(setup);
    const target = make(setup);
    const before = await snapshot(target);
    const modelWeight = Object.keys(good.tensors).find((n) => n.startsWith('model/') && n.endsWith('kernel'))!;
    const cases: [string, Tamper, RegExp][] = [
      ['another version', (c) => ((c as { format: string }).format = 'mm-balance-trainer/0'), /not a trainer checkpoint of this version/],
      ['no json (truncated)', (c) => ((c as unknown as { json: undefined }).json = undefined), /json is undefined, not an object/],
      ['a negative step', (c) => (c.json.step = -4), /step must be an integer ≥ 0, got -4/],
      ['a fractional step', (c) => (c.json.stepInEpoch = 1.5), /stepInEpoch must be an integer ≥ 0, got 1.5/],
      ['a billion optimizer slots', (c) => (c.json.optimizer.slots = 1e9), /1000000000 optimizer slots, not 0 to 3 per variable/],
      ['a transposed kernel', (c) => (c.tensors[modelWeight].shape = [...c.tensors[modelWeight].shape].reverse()), /has shape \[.*\], the model's weight has/],
      ['a NaN weight', (c) => (c.tensors[modelWeight].data[0] = Number.NaN), /holds NaN at index 0; a checkpoint of this trainer holds finite values only/],
      ['an int32 weight', (c) => (c.tensors[modelWeight] = { ...c.tensors[modelWeight], dtype: 'int32', data: Int32Array.from(c.tensors[modelWeight].data) }), /is int32, the model's weight is float32/],
      ['values missing', (c) => (c.tensors[modelWeight].data = c.tensors[modelWeight].data.slice(1)), /needs \d+ values, it holds \d+/],
      ['a slot of another variable', (c) => (c.tensors['optimizer/00000'] = c.tensors['optimizer/00001']), /optimizer\/00000 has shape/],
      ['another scheduler kind', (c) => (c.json.balancer.state.scheduler = { name: 'random', warmupSteps: 1, numModalities: 2, step: 4, rngState: 1, pending: null }), /has a random scheduler, this balancer a guided one/],
      ['a re-balanced modality the model lacks', (c) => ((c.json.balancer.state.scheduler as SchedulerState).modality = 5), /re-balances modality 5, the model has 2/],
      ['a window longer than Q', (c) => ((c.json.balancer.state.scheduler as SchedulerState).remaining = 99), /remaining must be an integer in 0…3/],
      ['NaN learning-speed totals', (c) => ((c.json.balancer.state.speed as { branchTotals: unknown[] }).branchTotals[0] = null), /branchTotals must be 2 finite numbers ≥ 0/],
      ['speed for three modalities', (c) => Object.assign(c.json.balancer.state.speed as object, { numModalities: 3 }), /branchTotals must be 3 finite numbers/],
    ];
    for (const [what, change, message] of cases) {
      const c = copy(good);
      change(c);
      const error = await target.restore(c).catch((e: unknown) => e);
      expect(error, what).toBeInstanceOf(CheckpointError);
      expect((error as Error).message, what).toMatch(message);
      expect(await snapshot(target), what).toBe(before);
    }
    release(target);
  });

  it('a balancer that refuses its state after the model checks passed leaves the weights as they were', async () => {
    const setup = SETUPS[5]; // PMR: prototypes must be [classes, d] tensors
    const good = await trainedCheckpoint(setup);
    const target = make(setup);
    const before = await snapshot(target);
    const c = copy(good);
    c.json.balancer.state = { ...c.json.balancer.state, hasPrototypes: true };
    for (const name of Object.keys(c.tensors)) if (name.startsWith('balancer/')) delete c.tensors[name];
    await expect(target.restore(c)).rejects.toThrow(/the checkpoint's pmr state cannot be restored: PMR: the saved state lacks prototypes_m0/);
    expect(await snapshot(target)).toBe(before);
    release(target);
  });
});

describe('layers with host state', () => {
  /** Gives the model's merge layer a counter outside its weights, as a seeded dropout has. */
  function withCounter(model: tfl.LayersModel, start: number): { get: () => number } {
    let n = start;
    Object.assign(model.getLayer('merge'), {
      hostState: () => ({ n }),
      setHostState: (s: unknown) => {
        const v = (s as { n?: unknown } | null)?.n;
        if (!(Number.isInteger(v) && (v as number) >= 0)) throw new Error(`bad counter ${JSON.stringify(v)}`);
        n = v as number;
      },
    });
    return { get: () => n };
  }

  it('their state travels in the checkpoint, and a refused one changes nothing', async () => {
    const source = make(SETUPS[0]);
    withCounter(source.model, 7);
    const checkpoint = copy(await source.checkpoint());
    expect(checkpoint.json.layers).toEqual({ merge: { n: 7 } });
    const target = make(SETUPS[0]);
    const counter = withCounter(target.model, 0);
    await target.restore(copy(checkpoint));
    expect(counter.get()).toBe(7);
    // A checkpoint from before layers were saved leaves them as they are.
    const old = copy(checkpoint);
    delete old.json.layers;
    await target.restore(old);
    expect(counter.get()).toBe(7);
    const bad = copy(checkpoint);
    bad.json.layers = { merge: { n: -2 } };
    const before = await snapshot(target);
    await expect(target.restore(bad)).rejects.toThrow(/layer state cannot be restored: bad counter -2/);
    expect(counter.get()).toBe(7);
    expect(await snapshot(target)).toBe(before);
    release(source);
    release(target);
  });
});

describe('scheduler state JSON', () => {
  const good: SchedulerState[] = [
    new GuidedScheduler({ alpha: 0.1, windowSize: 5, warmupSteps: 3 }).toJSON(),
    new RandomScheduler({ warmupSteps: 2, numModalities: 3, seed: 9 }).toJSON(),
    { name: 'vanilla' },
  ];
  it('round-trips, and any tampered field is a CheckpointError or a state that serialises back to itself', () => {
    fc.assert(
      fc.property(fc.constantFrom(...good), fc.option(fc.tuple(fc.constantFrom('name', 'alpha', 'windowSize', 'warmupSteps', 'step', 'remaining', 'modality', 'lastDSpeed', 'numModalities', 'rngState', 'pending'), fc.oneof(fc.jsonValue(), fc.constant(undefined)))), (state, change) => {
        const tampered: SchedulerState = structuredClone(state);
        if (change) {
          if (change[1] === undefined) delete tampered[change[0]];
          else (tampered as Record<string, unknown>)[change[0]] = change[1];
        }
        let restored;
        try {
          restored = schedulerFromJSON(tampered);
        } catch (error) {
          expect(error).toBeInstanceOf(CheckpointError);
          return;
        }
        // Accepted: every field it keeps is what was saved.
        const back = restored.toJSON();
        for (const [key, value] of Object.entries(back)) expect(value).toEqual(tampered[key] ?? null);
      }),
    );
    expect(() => schedulerFromJSON(null as unknown as SchedulerState)).toThrow(CheckpointError);
  });
});
