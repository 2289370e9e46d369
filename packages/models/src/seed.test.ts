import { describe, expect, it } from 'vitest';
import { checkSeed, layerSeed } from './seed.js';

describe('layerSeed', () => {
  it('is undefined without a base seed, a non-zero 32-bit integer with one (base 0 included)', () => {
    expect(layerSeed(undefined, 'conv1/kernel')).toBeUndefined();
    for (const base of [0, 1, -3, 2 ** 40, 0.5]) {
      for (const key of ['', 'conv1/kernel', 'm0_fc/bias', 'm1_fc/bias']) {
        const seed = layerSeed(base, key)!;
        expect(Number.isInteger(seed) && seed >= 1 && seed < 2 ** 32).toBe(true);
        expect(layerSeed(base, key)).toBe(seed);
      }
    }
  });

  it('differs between keys and between base seeds', () => {
    const seeds = new Set<number | undefined>();
    for (const base of [0, 1, 2]) for (const key of ['m0_conv1/kernel', 'm1_conv1/kernel', 'm0_fc/kernel', 'm0_fc/bias']) seeds.add(layerSeed(base, key));
    expect(seeds.size).toBe(12);
  });

  it('checkSeed rejects non-finite seeds', () => {
    expect(() => checkSeed(undefined, 'x')).not.toThrow();
    expect(() => checkSeed(0, 'x')).not.toThrow();
    expect(() => checkSeed(Number.NaN, 'x')).toThrow(/x: seed must be a finite number/);
    expect(() => checkSeed('1' as unknown as number, 'x')).toThrow(/seed/);
  });
});
