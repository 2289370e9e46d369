/**
 * Seeds and random numbers for methods that draw at random (noise, masks, schedules). Seeds are
 * derived from (seed, step, …) so a resumed run draws exactly what the uninterrupted one would.
 */

/** Mixes integers into one 31-bit positive seed (murmur3-style finalizer per part). Never 0: tfjs treats seed 0 as unseeded. */
export function mixSeed(...parts: number[]): number {
  let h = 0x9e3779b9;
  for (const part of parts) {
    h = Math.imul(h ^ (part >>> 0), 0x85ebca6b);
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35);
    h ^= h >>> 16;
  }
  return (h >>> 1) || 1;
}

/** mulberry32: a seeded uniform generator whose whole state is one integer (saved in JSON). */
export class Mulberry32 {
  constructor(public state: number) {
    this.state = state >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
}
