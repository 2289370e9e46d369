import { describe, expect, it } from 'vitest';
import type { LearningSpeedTracker } from '@mm/metrics';
import { GuidedScheduler, RandomScheduler, REGULAR, schedulerFromJSON, VanillaScheduler, type Scheduler, type StepKind } from './schedulers.js';

/** A tracker stand-in that reports a scripted d_speed sequence, one value per regular step. */
function scriptedSpeed(values: (number | null)[]): { tracker: LearningSpeedTracker; regularSteps: () => number } {
  let i = 0;
  const tracker = {
    imbalance: () => {
      const d = values[Math.min(i++, values.length - 1)];
      return d === null ? null : { dSpeed: d, accelerate: d > 0 ? 0 : 1 };
    },
  } as unknown as LearningSpeedTracker;
  return { tracker, regularSteps: () => i };
}

function run(scheduler: Scheduler, steps: number, tracker?: LearningSpeedTracker): string[] {
  const kinds: string[] = [];
  for (let s = 0; s < steps; s++) {
    const kind: StepKind = scheduler.next();
    kinds.push(kind.type === 'regular' ? 'R' : `B${kind.modality}`);
    scheduler.afterStep(kind, tracker);
  }
  return kinds;
}

describe('schedulers', () => {
  it('vanilla only takes regular steps', () => {
    expect(run(new VanillaScheduler(), 5)).toEqual(['R', 'R', 'R', 'R', 'R']);
    expect(new VanillaScheduler().next()).toBe(REGULAR);
  });

  it('guided follows Algorithm 1 for a scripted d_speed sequence', () => {
    // warm-up 3 steps: d_speed is computed but never acted on, even though it is large.
    // Then: 0.05 (≤ α) → regular; 0.3 → Q=2 steps accelerating m0; -0.2 → 2 steps on m1;
    // 0.1 (= α, not >) → regular; 0.5 → m0 window.
    const { tracker, regularSteps } = scriptedSpeed([0.9, 0.9, 0.9, 0.05, 0.3, -0.2, 0.1, 0.5, 0]);
    const guided = new GuidedScheduler({ alpha: 0.1, windowSize: 2, warmupSteps: 3 });
    const kinds = run(guided, 14, tracker);
    expect(kinds).toEqual(['R', 'R', 'R', 'R', 'R', 'B0', 'B0', 'R', 'B1', 'B1', 'R', 'R', 'B0', 'B0']);
    // The accumulators are consulted after regular steps only.
    expect(regularSteps()).toBe(8);
  });

  it('guided waits while d_speed is undefined and rejects bad options', () => {
    const { tracker } = scriptedSpeed([null, null, 1]);
    expect(run(new GuidedScheduler({ alpha: 0.1, windowSize: 1, warmupSteps: 0 }), 4, tracker)).toEqual(['R', 'R', 'R', 'B0']);
    expect(() => new GuidedScheduler({ alpha: -1, windowSize: 5, warmupSteps: 0 })).toThrow(/alpha/);
    expect(() => new GuidedScheduler({ alpha: 0.1, windowSize: 0, warmupSteps: 0 })).toThrow(/windowSize/);
    expect(() => new GuidedScheduler({ alpha: 0.1, windowSize: 5, warmupSteps: 0 }).afterStep(REGULAR, undefined)).toThrow(/needs the learning-speed tracker/);
  });

  it('random warms up, then draws regular / re-balance m0 / re-balance m1 uniformly', () => {
    const kinds = run(new RandomScheduler({ warmupSteps: 10, seed: 4 }), 3010);
    expect(kinds.slice(0, 10).every((k) => k === 'R')).toBe(true);
    const after = kinds.slice(10);
    for (const k of ['R', 'B0', 'B1']) {
      const share = after.filter((x) => x === k).length / after.length;
      expect(share).toBeGreaterThan(0.3);
      expect(share).toBeLessThan(0.37);
    }
    const three = run(new RandomScheduler({ warmupSteps: 0, seed: 1, numModalities: 3 }), 400);
    expect(new Set(three)).toEqual(new Set(['R', 'B0', 'B1', 'B2']));
  });

  it('random is stable under repeated next() and resumes identically from JSON', () => {
    const a = new RandomScheduler({ warmupSteps: 2, seed: 9 });
    run(a, 7);
    expect(a.next()).toEqual(a.next());
    const resumed = schedulerFromJSON(JSON.parse(JSON.stringify(a.toJSON())));
    expect(run(resumed, 50)).toEqual(run(a, 50));
  });

  it('guided resumes identically from JSON mid-window', () => {
    const values = [0.5, 0.5, -0.5, 0.01, 0.5, 0.5, -0.5, 0.5];
    const a = new GuidedScheduler({ alpha: 0.1, windowSize: 3, warmupSteps: 1 });
    const s1 = scriptedSpeed(values);
    const first = run(a, 4, s1.tracker);
    const state = JSON.parse(JSON.stringify(a.toJSON()));
    const rest = run(a, 10, s1.tracker);
    const s2 = scriptedSpeed(values.slice(s1.regularSteps() - (rest.filter((k) => k === 'R').length)));
    const b = schedulerFromJSON(state);
    expect(b.next()).toEqual(rest[0] === 'R' ? REGULAR : { type: 'rebalance', modality: Number(rest[0][1]) });
    expect(run(b, 10, s2.tracker)).toEqual(rest);
    expect(first).toHaveLength(4);
    expect(() => schedulerFromJSON({ name: 'nope' })).toThrow(/unknown scheduler 'nope'/);
  });
});
