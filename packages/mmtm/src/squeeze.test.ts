import { describe, expect, it } from 'vitest';
import { squeezeAxes } from './squeeze.js';

describe('squeezeAxes', () => {
  it('reduces all non-batch, non-channel axes', () => {
    expect(squeezeAxes(2)).toEqual([]);
    expect(squeezeAxes(4)).toEqual([1, 2]);
    expect(squeezeAxes(5)).toEqual([1, 2, 3]);
    expect(() => squeezeAxes(1)).toThrow(/rank ≥ 2/);
  });
});
