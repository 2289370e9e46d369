import { describe, expect, it } from 'vitest';
import { FunctionPatch } from './function-patch.js';

describe('FunctionPatch', () => {
  it('installs once, delegates to the original and restores it', () => {
    const original = (x: number) => x + 1;
    const target: Record<string, unknown> = { f: original };
    const patch: FunctionPatch<(x: number) => number> = new FunctionPatch(() => target, 'f', (x: number) => patch.stock(x) * 10);
    expect(() => patch.stock).toThrow(/not installed/);
    expect(patch.install()).toBe(true);
    expect(patch.install()).toBe(true);
    expect((target.f as (x: number) => number)(1)).toBe(20);
    patch.restore();
    expect(target.f).toBe(original);
  });

  it('reports false for a frozen or missing target and changes nothing', () => {
    const original = () => 1;
    const frozen = Object.freeze({ f: original }) as Record<string, unknown>;
    expect(new FunctionPatch(() => frozen, 'f', () => 2).install()).toBe(false);
    expect(frozen.f).toBe(original);
    expect(new FunctionPatch(() => undefined, 'f', () => 2).install()).toBe(false);
  });
});
