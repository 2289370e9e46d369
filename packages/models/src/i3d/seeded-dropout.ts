import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import type { Kwargs } from '@tensorflow/tfjs-layers/dist/types';
import { layerSeed } from '../seed.js';

export interface SeededDropoutArgs {
  /** Fraction of the inputs set to zero in training, in [0, 1). */
  rate: number;
  /** Seed of the mask stream. */
  seed: number;
  name?: string;
}

/**
 * Dropout whose masks come from a seeded stream: training call n draws its mask with seed
 * hash(seed, n), so two identically built models drop the same units step for step. (tfjs's own
 * Dropout with a `seed` draws the *same* mask on every call.) The stream's position is host
 * state, not a weight: `hostState()` / `setHostState()` let a trainer checkpoint carry it (@mm/balance's
 * BalancedTrainer does), so a resumed run draws the masks an uninterrupted one would.
 * Inference passes inputs through.
 */
export class SeededDropout extends tfl.layers.Layer {
  static className = 'MmSeededDropout';
  readonly rate: number;
  readonly seed: number;
  private draws = 0;

  constructor(args: SeededDropoutArgs) {
    super({ name: args.name });
    if (!(args.rate >= 0 && args.rate < 1)) throw new Error(`SeededDropout ${this.name}: rate must be in [0, 1), got ${args.rate}`);
    this.rate = args.rate;
    this.seed = args.seed;
    this.supportsMasking = true;
  }

  override computeOutputShape(inputShape: tfl.Shape | tfl.Shape[]): tfl.Shape | tfl.Shape[] {
    return inputShape;
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Kwargs): tf.Tensor {
    const x = Array.isArray(inputs) ? inputs[0] : inputs;
    if (kwargs?.['training'] !== true || this.rate === 0) return x;
    const seed = layerSeed(this.seed, `draw${this.draws++}`);
    return tf.tidy(() => tf.dropout(x, this.rate, undefined, seed));
  }

  /** Training calls so far: the position of the mask stream. */
  hostState(): { draws: number } {
    return { draws: this.draws };
  }

  setHostState(state: unknown): void {
    const draws = (state as { draws?: unknown } | null)?.draws;
    if (!(Number.isSafeInteger(draws) && (draws as number) >= 0)) throw new Error(`SeededDropout ${this.name}: saved draws must be an integer ≥ 0, got ${JSON.stringify(draws)}`);
    this.draws = draws as number;
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), rate: this.rate, seed: this.seed };
  }
}

tf.serialization.registerClass(SeededDropout);
