import { describe, expect, it } from 'vitest';
import { percent, signed, stat } from './stats.js';

describe('stats', () => {
  it('uses the sample standard deviation (n − 1)', () => {
    const s = stat([1, 2, 3, 4]);
    expect(s.mean).toBe(2.5);
    expect(s.std).toBeCloseTo(Math.sqrt(5 / 3), 12);
  });

  it('prints a spread only when there is more than one run', () => {
    expect(percent(stat([0.2, 0.3]))).toBe('25.00 ± 7.07');
    expect(percent(stat([0.1234]))).toBe('12.34');
    expect(signed(stat([-0.25, -0.35]))).toBe('-0.300 ± 0.071');
    expect(signed(stat([0.1234]))).toBe('+0.123');
    expect(percent(stat([]))).toBe('—');
    expect(signed(undefined)).toBe('—');
  });
});
