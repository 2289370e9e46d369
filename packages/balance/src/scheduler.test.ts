import { describe, expect, it } from 'vitest';
import { REGULAR } from './scheduler.js';

describe('step kinds', () => {
  it('has a frozen regular step', () => {
    expect(REGULAR).toEqual({ kind: 'regular' });
    expect(Object.isFrozen(REGULAR)).toBe(true);
  });
});
