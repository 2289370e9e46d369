import type * as tfl from '@tensorflow/tfjs-layers';

/** Every weight of a model by its layer-scoped name (`m0_conv1/kernel`), as a flat Float32Array. */
export function weightValues(model: tfl.LayersModel): Map<string, Float32Array> {
  const values = new Map<string, Float32Array>();
  for (const w of model.weights) values.set(w.originalName, Float32Array.from(w.read().dataSync() as Float32Array));
  return values;
}

export function sameValues(a: Float32Array | undefined, b: Float32Array | undefined): boolean {
  if (!a || !b || a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Names of the weights that differ between two models (or exist in only one). */
export function differingWeights(a: Map<string, Float32Array>, b: Map<string, Float32Array>): string[] {
  const names = new Set([...a.keys(), ...b.keys()]);
  return [...names].filter((n) => !sameValues(a.get(n), b.get(n)));
}

/** Weights drawn from a random initialiser (kernels, Dense/conv biases, MMTM and SE weights), not BN's constants. */
export const isRandomlyInitialised = (name: string) => !/\/(gamma|beta|moving_mean|moving_variance)$/.test(name);

export interface WeightStatistics {
  count: number;
  mean: number;
  /** Population standard deviation. */
  std: number;
  maxAbs: number;
  /** Fraction of values with |v| > threshold. */
  fractionBeyond: (threshold: number) => number;
}

/** Mean, spread and tails of one weight tensor's values (float64 sums, so large layers stay exact enough). */
export function weightStatistics(values: Float32Array): WeightStatistics {
  let sum = 0;
  let maxAbs = 0;
  for (const v of values) {
    sum += v;
    maxAbs = Math.max(maxAbs, Math.abs(v));
  }
  const mean = sum / values.length;
  let squares = 0;
  for (const v of values) squares += (v - mean) ** 2;
  return {
    count: values.length,
    mean,
    std: Math.sqrt(squares / values.length),
    maxAbs,
    fractionBeyond: (threshold) => {
      let beyond = 0;
      for (const v of values) if (Math.abs(v) > threshold) beyond++;
      return beyond / values.length;
    },
  };
}
