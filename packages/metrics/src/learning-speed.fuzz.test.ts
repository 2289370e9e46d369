import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LearningSpeedTracker, SavedStateError, type LearningSpeedState } from './learning-speed.js';

/** A tracker after some steps of non-negative effective updates. */
const trackerState = fc
  .tuple(fc.integer({ min: 2, max: 4 }), fc.constantFrom(10, Math.E, 2))
  .chain(([k, logBase]) =>
    fc.array(fc.record({ branch: fc.array(fc.double({ min: 0, max: 10, noNaN: true }), { minLength: k, maxLength: k }), fusion: fc.array(fc.double({ min: 0, max: 10, noNaN: true }), { minLength: k, maxLength: k }) }), { maxLength: 6 }).map((steps) => {
      const t = new LearningSpeedTracker({ numModalities: k, logBase });
      steps.forEach((mu) => t.accumulate(mu));
      return t.toJSON();
    }),
  );

describe('learning-speed state JSON', () => {
  it('round-trips: the same speeds and d_speed', () => {
    fc.assert(
      fc.property(trackerState, (state) => {
        const back = LearningSpeedTracker.fromJSON(JSON.parse(JSON.stringify(state)));
        expect(back.toJSON()).toEqual(state);
      }),
    );
  });

  it('any tampered or missing field: a SavedStateError, or a state that is valid and kept as given', () => {
    const keys = ['numModalities', 'logBase', 'branchTotals', 'fusionTotals', 'steps'] as const;
    fc.assert(
      fc.property(trackerState, fc.constantFrom(...keys), fc.oneof(fc.jsonValue(), fc.constant(undefined), fc.constantFrom(Number.NaN, -1, 1.5, 1e308 * 10)), (state, key, value) => {
        const tampered = { ...state, [key]: value } as LearningSpeedState;
        if (value === undefined) delete (tampered as Partial<LearningSpeedState>)[key];
        let back: LearningSpeedTracker;
        try {
          back = LearningSpeedTracker.fromJSON(tampered);
        } catch (error) {
          expect(error).toBeInstanceOf(SavedStateError);
          expect((error as Error).message).toMatch(/^learning speed state: /);
          return;
        }
        const json = back.toJSON();
        expect(json).toEqual(tampered);
        expect([...json.branchTotals, ...json.fusionTotals].every((v) => Number.isFinite(v) && v >= 0)).toBe(true);
        for (const s of back.speeds()) expect(s === null || Number.isFinite(s)).toBe(true);
      }),
    );
    expect(() => LearningSpeedTracker.fromJSON(null as unknown as LearningSpeedState)).toThrow(SavedStateError);
  });
});
