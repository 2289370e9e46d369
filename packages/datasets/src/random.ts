/** A seeded 32-bit PRNG (mulberry32): fast, deterministic across platforms, state is one integer. */
export interface Rng {
  /** Uniform in [0, 1). */
  next(): number;
  /** Integer in [0, n). */
  int(n: number): number;
  /** Standard normal (Box–Muller). */
  normal(): number;
  /** The state, to resume the same sequence later. */
  state(): number;
}

export function createRng(seed: number): Rng {
  let s = seed >>> 0;
  const next = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int: (n) => Math.floor(next() * n),
    normal: () => {
      const u = 1 - next();
      const v = next();
      return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
    },
    state: () => s,
  };
}

/**
 * Mixes integers into a 32-bit seed (murmur3-style finalizer per part), so that one user seed
 * gives independent streams: `deriveSeed(seed, epoch, stream, index)` changes completely when
 * any part changes.
 */
export function deriveSeed(...parts: number[]): number {
  let h = 0x9e3779b9;
  for (const part of parts) {
    h = Math.imul(h ^ (part >>> 0), 0x85ebca6b);
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35);
    h ^= h >>> 16;
  }
  return h >>> 0;
}

/** Fisher–Yates shuffle of 0..n-1, deterministic for a seed. */
export function shuffledIndices(n: number, seed: number): Int32Array {
  const rng = createRng(seed);
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) out[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    const tmp = out[i];
    out[i] = out[j];
    out[j] = tmp;
  }
  return out;
}

/**
 * Holds out a fixed-seed fraction of the training indices for validation (the paper and the
 * reference code hold out 20%). Both parts come back sorted, so file order is preserved.
 */
export function splitTrainValidation(
  n: number,
  validationFraction = 0.2,
  seed = 0,
): { train: Int32Array; validation: Int32Array } {
  if (!(validationFraction >= 0 && validationFraction < 1)) {
    throw new Error(`validationFraction must be in [0, 1), got ${validationFraction}`);
  }
  const order = shuffledIndices(n, seed);
  const nValidation = Math.round(n * validationFraction);
  const validation = order.slice(0, nValidation).sort();
  const train = order.slice(nValidation).sort();
  return { train, validation };
}
