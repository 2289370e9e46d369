import { describe, expect, it } from 'vitest';
import { conditionalUtilizationRate, UndefinedUtilizationError, utilizationImbalance } from './utilization.js';

describe('conditional utilization rate', () => {
  it('is the relative accuracy drop when the other modality is cut', () => {
    expect(conditionalUtilizationRate(0.9, 0.45)).toBeCloseTo(0.5, 12);
    expect(conditionalUtilizationRate(0.8, 0.8)).toBe(0);
    expect(utilizationImbalance(0.5, 0.1)).toBeCloseTo(0.4, 12);
  });

  it('refuses zero accuracy and out-of-range inputs instead of returning NaN', () => {
    expect(() => conditionalUtilizationRate(0, 0)).toThrow(/zero accuracy/);
    expect(() => conditionalUtilizationRate(0, 0)).toThrow(UndefinedUtilizationError);
    expect(() => conditionalUtilizationRate(Number.NaN, 0.1)).not.toThrow(UndefinedUtilizationError);
    expect(() => conditionalUtilizationRate(Number.NaN, 0.1)).toThrow(/accuracyFull/);
    expect(() => conditionalUtilizationRate(0.5, 1.5)).toThrow(/accuracyCut/);
  });
});
