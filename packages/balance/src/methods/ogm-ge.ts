import * as tf from '@tensorflow/tfjs-core';
import type { AttachContext, Balancer, BalancerState, Gradients, Requirements, StepContext } from '../balancer.js';
import type { ForwardOutputs } from '../fusion/model-view.js';
import { trueClassProbability } from '../losses.js';
import { mixSeed } from '../random.js';

/**
 * OGM-GE: On-the-fly Gradient Modulation with Generalization Enhancement (Peng, Wei, Deng,
 * Wang & Hu, "Balanced Multimodal Learning via On-the-fly Gradient Modulation", CVPR 2022).
 *
 * Measures: each modality's confidence in the true class over the batch, s_m = Σ_i softmax(z_m,i)[y_i],
 * from per-modality logits z_m (a late model's head slices h_m·W_m + b/2, or the model's heads),
 * and the discrepancy ρ_0 = s_0/s_1, ρ_1 = s_1/s_0.
 * Changes: the gradient of the leading modality's encoder, g ← k·g with
 *   k_u = 1 − tanh(α·ρ_u) when ρ_u > 1, else 1 (the paper's Eq.; the reference code before May
 *   2022 used 1 − tanh(α·(ρ − 1)), which is ≈ 1 just above ρ = 1),
 * plus (GE) Gaussian noise N(0, std(g)²) with the standard deviation of the *unscaled*
 * gradient (an early version of the reference code took it from the scaled one).
 * Defaults: α 0.1 (the reference's default; it recommends 0.8 for CREMA-D), modulation from the
 * first epoch on. The reference modulates only 4-D gradients (conv kernels); here every encoder
 * parameter, as the paper writes (`convKernelsOnly` restores the reference's choice).
 * Cost: a few reductions per step, no extra pass. Two modalities (the ratio is pairwise).
 * Under Adam: a scalar k on a gradient is largely normalised away by Adam's second moment
 * (reference issue #26); use SGD, as the paper does.
 */
export interface OgmGeOptions {
  /** Modulation strength α (default 0.1). */
  alpha?: number;
  /** Add the generalization-enhancement noise (default true; false gives plain OGM). */
  noise?: boolean;
  /** Modulate from this epoch on (default 0) … */
  firstEpoch?: number;
  /** … up to and including this epoch (default: to the end). */
  lastEpoch?: number;
  /** Only modulate rank-4 gradients (conv kernels), as the reference code (default false). */
  convKernelsOnly?: boolean;
  /** Seed of the noise (default 0). */
  seed?: number;
}

export interface OgmGeMetrics {
  [key: string]: number | null;
  /** k_0, k_1 of this step (1 when not modulating). */
  k0: number;
  k1: number;
  /** ρ_0 = s_0 / s_1 (null outside the modulation epochs). */
  ratio: number | null;
}

export class OgmGe implements Balancer<OgmGeMetrics> {
  readonly name = 'ogm-ge';
  readonly requirements: Requirements = {
    modalityLogits: ['heads', 'slices'],
    modalities: { min: 2, max: 2, why: 'the discrepancy ratio is defined between two modalities' },
  };
  readonly alpha: number;
  readonly noise: boolean;
  readonly firstEpoch: number;
  readonly lastEpoch: number;
  readonly convKernelsOnly: boolean;
  readonly seed: number;
  private scores?: tf.Tensor1D;

  constructor(options: OgmGeOptions = {}) {
    this.alpha = options.alpha ?? 0.1;
    this.noise = options.noise ?? true;
    this.firstEpoch = options.firstEpoch ?? 0;
    this.lastEpoch = options.lastEpoch ?? Number.POSITIVE_INFINITY;
    this.convKernelsOnly = options.convKernelsOnly ?? false;
    this.seed = options.seed ?? 0;
    if (!(this.alpha >= 0)) throw new Error(`OGM-GE: alpha must be ≥ 0, got ${this.alpha}`);
  }

  attach({ view }: AttachContext): void {
    if (view.encoders.some((e) => e.length === 0)) throw new Error('OGM-GE: a modality has no encoder parameters to modulate');
  }

  beforeStep(): void {
    this.scores = undefined;
  }

  private active(ctx: StepContext): boolean {
    return ctx.epoch >= this.firstEpoch && ctx.epoch <= this.lastEpoch;
  }

  loss(ctx: StepContext, out: ForwardOutputs): tf.Scalar {
    if (this.active(ctx)) {
      // The scores only choose k; they do not enter the loss.
      const z = ctx.modalityLogits(out);
      this.scores = ctx.keep(tf.stack(z.map((logits) => tf.sum(trueClassProbability(ctx.labels, logits)))) as tf.Tensor1D);
    }
    return ctx.view.baseLoss(out, ctx.labels);
  }

  /** k_m = 1 − tanh(α·ρ_m) where ρ_m > 1, else 1. */
  static coefficients(scores: tf.Tensor1D, alpha: number): tf.Tensor1D {
    return tf.tidy(() => {
      const [s0, s1] = tf.unstack(scores);
      const ratios = tf.stack([tf.div(s0, s1), tf.div(s1, s0)]);
      return tf.where(tf.greater(ratios, 1), tf.sub(1, tf.tanh(tf.mul(ratios, alpha))), tf.onesLike(ratios)) as tf.Tensor1D;
    });
  }

  transformGradients(ctx: StepContext, grads: Gradients): Gradients {
    if (!this.scores) {
      ctx.report('modulation', tf.tensor1d([1, 1, Number.NaN]));
      return grads;
    }
    const k = OgmGe.coefficients(this.scores, this.alpha);
    const [s0, s1] = tf.unstack(this.scores);
    ctx.report('modulation', tf.concat([k, tf.reshape(tf.div(s0, s1), [1])]));
    const out = { ...grads };
    ctx.view.encoders.forEach((variables, m) => {
      const km = tf.gather(k, m);
      variables.forEach((v, i) => {
        const g = grads[v.name];
        if (this.convKernelsOnly && g.rank !== 4) return;
        let modulated = tf.mul(g, km);
        if (this.noise) {
          // N(0, std(g)²) with the unbiased std of the gradient before modulation; seeded by step and tensor so a resumed run draws the same noise.
          const std = tf.add(tf.sqrt(tf.div(tf.sum(tf.square(tf.sub(g, tf.mean(g)))), Math.max(1, g.size - 1))), 1e-8);
          const unit = tf.randomNormal(g.shape, 0, 1, 'float32', mixSeed(this.seed, ctx.step, m, i));
          modulated = tf.add(modulated, tf.mul(unit, std));
        }
        out[v.name] = modulated;
      });
    });
    this.scores = undefined;
    return out;
  }

  afterStep(_ctx: StepContext, reported: Record<string, Float32Array>): OgmGeMetrics {
    const [k0, k1, ratio] = reported.modulation;
    return { k0, k1, ratio: Number.isNaN(ratio) ? null : ratio };
  }

  state(): BalancerState {
    // k depends on the current batch only; the noise on (seed, step): nothing else to carry.
    return { json: {} };
  }

  restore(): void {}
}
