import type { LayersModel } from '@tensorflow/tfjs-layers';

/**
 * How a fusion layer combines modalities on the next forward pass.
 * - `normal`: Eq. 1–2.
 * - `cut`: Eq. 7 — for head k, every other modality's squeeze is replaced by its recorded
 *   training-set mean h̄, so head k sees only its own modality.
 * - `rebalance`: Eq. 13–14 — modality k's excitation is replaced by its mean w̄_k over the samples
 *   of the preceding regular training steps, which accelerates learning from modality k.
 */
export type FusionMode = { kind: 'normal' } | { kind: 'cut' } | { kind: 'rebalance'; modality: number };

/**
 * What a fusion layer accumulates while it runs:
 * - `squeeze`: the per-modality squeeze vectors h_k (the pass that precedes `cut`);
 * - `excitation`: the per-modality excitations w_k (set during regular training steps only).
 */
export type FusionRecording = 'none' | 'squeeze' | 'excitation';

export const NORMAL_MODE: FusionMode = Object.freeze({ kind: 'normal' });

/**
 * The contract between a fusion layer and `@mm/metrics` / `@mm/balance`. MMTM implements it;
 * a user's own fusion layer can too, and then works with the balancer unchanged.
 */
export interface FusionLayer {
  readonly isFusionLayer: true;
  readonly name: string;
  /** Number of modalities the layer fuses. */
  readonly numModalities: number;
  setFusionMode(mode: FusionMode): void;
  getFusionMode(): FusionMode;
  setRecording(recording: FusionRecording): void;
  getRecording(): FusionRecording;
  /** Forget the recorded squeeze means (before a new recording pass). */
  resetSqueezeStatistics(): void;
  /** Names of the layer's trainable weights on the path to head k (θ'_k in the paper). */
  fusionWeightNames(modality: number): string[];
}

export function isFusionLayer(layer: unknown): layer is FusionLayer {
  return typeof layer === 'object' && layer !== null && (layer as Partial<FusionLayer>).isFusionLayer === true;
}

/** All fusion layers of a model, in topological order (nested models included). */
export function fusionLayersOf(model: LayersModel): FusionLayer[] {
  const found: FusionLayer[] = [];
  const visit = (layers: readonly unknown[]) => {
    for (const layer of layers) {
      if (isFusionLayer(layer)) found.push(layer);
      const nested = (layer as { layers?: unknown[] }).layers;
      if (Array.isArray(nested)) visit(nested);
    }
  };
  visit(model.layers);
  return found;
}

function targets(target: LayersModel | FusionLayer | readonly FusionLayer[]): FusionLayer[] {
  if (Array.isArray(target)) return [...target];
  if (isFusionLayer(target)) return [target];
  return fusionLayersOf(target as LayersModel);
}

/** Sets the mode of one fusion layer, a list of them, or every fusion layer of a model. */
export function setFusionMode(target: LayersModel | FusionLayer | readonly FusionLayer[], mode: FusionMode): void {
  for (const layer of targets(target)) layer.setFusionMode(mode);
}

export function setFusionRecording(
  target: LayersModel | FusionLayer | readonly FusionLayer[],
  recording: FusionRecording,
): void {
  for (const layer of targets(target)) layer.setRecording(recording);
}

/**
 * Runs `fn` with the given mode and recording on every fusion layer of `target`, then restores
 * each layer's previous state — also when `fn` throws — so a mode can never leak into later
 * passes (the reference code lets a re-balancing window leak into validation).
 */
export function withFusionMode<T>(
  target: LayersModel | FusionLayer | readonly FusionLayer[],
  mode: FusionMode,
  fn: () => T,
  recording: FusionRecording = 'none',
): T {
  const layers = targets(target);
  const saved = layers.map((l) => [l.getFusionMode(), l.getRecording()] as const);
  for (const l of layers) {
    l.setFusionMode(mode);
    l.setRecording(recording);
  }
  try {
    return fn();
  } finally {
    layers.forEach((l, i) => {
      l.setFusionMode(saved[i][0]);
      l.setRecording(saved[i][1]);
    });
  }
}
