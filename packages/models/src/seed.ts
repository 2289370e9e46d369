/**
 * Per-layer seeds for reproducible weight initialisation.
 *
 * A seeded model derives the seed of every random stream (a kernel or bias initialiser, an MMTM
 * or SE block, a dropout mask) from the model's base seed and the stream's key — the layer name
 * and which weight (`m1_layer2_0_conv1/kernel`). So the weights depend only on the base seed and
 * the layer names, not on the order in which layers are built, and branches `m0_…` / `m1_…` of a
 * fused network start from different weights.
 */

/** Throws unless `seed` is undefined or a finite number. */
export function checkSeed(seed: number | undefined, who: string): void {
  if (seed !== undefined && (typeof seed !== 'number' || !Number.isFinite(seed))) {
    throw new Error(`${who}: seed must be a finite number (or undefined for unseeded), got ${String(seed)}`);
  }
}

/**
 * The seed of one random stream: a 32-bit hash (FNV-1a, then murmur3's finaliser) of the base
 * seed and `key`, in [1, 2³² − 1]. Never 0, because tfjs treats seed 0 like no seed (Math.random)
 * in its normal and truncated-normal initialisers. `undefined` base → `undefined` (unseeded).
 */
export function layerSeed(base: number | undefined, key: string): number | undefined {
  if (base === undefined) return undefined;
  const text = `${base}\u0000${key}`;
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  h >>>= 0;
  return h === 0 ? 1 : h;
}
