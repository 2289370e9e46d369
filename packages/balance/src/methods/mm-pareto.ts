import * as tf from '@tensorflow/tfjs-core';
import type { AttachContext, Balancer, BalancerState, Gradients, Requirements, StepContext } from '../balancer.js';
import { crossEntropy } from '../losses.js';

/**
 * MMPareto (Wei & Hu, "MMPareto: Boosting Multimodal Learning with Innocent Unimodal
 * Assistance", ICML 2024).
 *
 * Measures: for each modality m, the gradients of its encoder θ_m (flattened over the encoder's
 * tensors) from the multimodal loss, g_mm = ∂L_mm/∂θ_m, and from its own unimodal loss,
 * g_uni = ∂L_m/∂θ_m, and their cosine. L_mm is the model's own loss (CE of a late model's output;
 * Σ_k CE over the heads of a model with per-modality heads); L_m = CE(y, z_m) with z_m the
 * model's head m (mmtm, shared-head, heads) or an auxiliary linear head on h_m (late models; the
 * trainer adds it and it trains on L_m).
 * Changes: the encoder gradients. Weights (k_mm, k_uni) = (½, ½) when cos > 0, else the MGDA
 * min-norm point of the two: k_mm = γ = clip((g_uni·g_uni − g_mm·g_uni)/‖g_mm − g_uni‖², 0.001,
 * 0.999), the minimiser of ‖γ·g_mm + (1 − γ)·g_uni‖, and k_uni = 1 − γ. Then per encoder tensor
 *   g_new = 2k_mm·g_mm + 2k_uni·g_uni,  g_sum = g_mm + g_uni,
 *   grad = γ_s·max(1, ‖g_sum‖/‖g_new‖)·g_new
 * (the norms per tensor; a tensor whose g_new is zero gets a zero gradient instead of 0/0).
 * Every other variable (heads, fusion, auxiliary heads) gets the plain gradient of L_mm + Σ_m L_m,
 * which is also the loss the step reports.
 * The BalanceBenchmark port assigns the min-norm result to its loop variable, leaves the weights
 * at (0, 0) and so divides 0 by 0 whenever the gradients conflict; this follows the paper and
 * the authors' code.
 * Defaults: γ_s = 1.5 (the paper's and the reference code's constant). The reference trains with
 * SGD (lr 2e-3, momentum 0.9).
 * Cost: one forward and backward for L_mm and one per L_m (1 + M), or two when every encoder
 * reaches only its own L_m (separable branches, as late fusion): then one backward of Σ_m L_m
 * gives every g_uni. tfjs cannot backpropagate twice through one forward, so each backward has its
 * own forward: batch-norm statistics are put back after the extra ones (updated once per step,
 * as the reference), but a model with dropout draws different masks for L_mm and the L_m.
 * Modalities: any number (the authors support three).
 * Under Adam: the per-tensor rescaling (γ_s and the norm ratio) is largely normalised away by
 * Adam's second moment; the min-norm direction remains.
 */
export interface MmParetoOptions {
  /** γ_s, the scale of the combined encoder gradients (default 1.5). */
  scale?: number;
  /**
   * When encoder m reaches no L_k but L_m (separable branches), take every L_m's encoder gradient
   * from one backward of Σ_m L_m (default true; false runs one backward per L_m).
   */
  combineUnimodalBackward?: boolean;
}

/** cos(g_mm, g_uni) and the weight k_mm of the multimodal gradient, per modality: cos0, mmWeight0, cos1, … */
export interface MmParetoMetrics {
  [key: string]: number | null;
}

/**
 * γ ∈ [0.001, 0.999] minimising ‖γ·v1 + (1 − γ)·v2‖ (MGDA for two vectors): the weight of v1;
 * v2 gets 1 − γ.
 */
export function minNormWeight(v1: tf.Tensor1D, v2: tf.Tensor1D): tf.Scalar {
  return tf.tidy(() => {
    const numerator = tf.sub(tf.sum(tf.square(v2)), tf.sum(tf.mul(v1, v2)));
    // Equal vectors: every γ is a minimiser; the floor keeps 0/0 out.
    const denominator = tf.maximum(tf.sum(tf.square(tf.sub(v1, v2))), 1e-30);
    return tf.clipByValue(tf.div(numerator, denominator), 0.001, 0.999) as tf.Scalar;
  });
}

/** Cosine of two vectors, as PyTorch's cosine_similarity (the product of norms floored at 1e-8). */
function cosine(a: tf.Tensor1D, b: tf.Tensor1D): tf.Scalar {
  return tf.div(tf.sum(tf.mul(a, b)), tf.maximum(tf.mul(tf.norm(a), tf.norm(b)), 1e-8)) as tf.Scalar;
}

const flatten = (tensors: tf.Tensor[]) => tf.concat(tensors.map((t) => tf.reshape(t, [-1]))) as tf.Tensor1D;

export class MmPareto implements Balancer<MmParetoMetrics> {
  readonly name = 'mmpareto';
  readonly requirements: Requirements = { modalityLogits: ['heads', 'aux'] };
  readonly scale: number;
  readonly combineUnimodalBackward: boolean;
  private unimodalBackwards_ = 0;

  constructor(options: MmParetoOptions = {}) {
    this.scale = options.scale ?? 1.5;
    this.combineUnimodalBackward = options.combineUnimodalBackward ?? true;
    if (!(this.scale > 0)) throw new Error(`MMPareto: scale must be > 0, got ${this.scale}`);
  }

  /** Backward passes for the unimodal losses per step: 1 (one for Σ_m L_m) or one per modality. */
  get unimodalBackwards(): number {
    return this.unimodalBackwards_;
  }

  attach({ view }: AttachContext): void {
    const owner = new Map<tf.Variable, number>();
    view.encoders.forEach((variables, m) => {
      if (variables.length === 0) throw new Error(`MMPareto: modality ${m} has no encoder parameters to combine gradients for`);
      for (const v of variables) {
        const other = owner.get(v);
        if (other !== undefined) throw new Error(`MMPareto: ${v.name} belongs to the encoders of modalities ${other} and ${m}; the method needs one encoder per modality (no shared layers)`);
        owner.set(v, m);
      }
    });
    const separable = view.has('separable-branches');
    this.unimodalBackwards_ = this.combineUnimodalBackward && separable ? 1 : view.numModalities;
  }

  /**
   * The encoder gradient of one modality from its multimodal and unimodal gradients (per tensor,
   * in the encoder's variable order), with cos(g_mm, g_uni) and k_mm.
   */
  combine(multimodal: tf.Tensor[], unimodal: tf.Tensor[]): { grads: tf.Tensor[]; cos: tf.Scalar; mmWeight: tf.Scalar } {
    return tf.tidy(() => {
      const gMm = flatten(multimodal);
      const gUni = flatten(unimodal);
      const cos = cosine(gMm, gUni);
      const mmWeight = tf.where(tf.greater(cos, 0), tf.scalar(0.5), minNormWeight(gMm, gUni)) as tf.Scalar;
      const uniWeight = tf.sub(1, mmWeight);
      const grads = multimodal.map((g, i) => {
        const combined = tf.add(tf.mul(g, tf.mul(mmWeight, 2)), tf.mul(unimodal[i], tf.mul(uniWeight, 2)));
        const combinedNorm = tf.norm(combined);
        const ratio = tf.div(tf.norm(tf.add(g, unimodal[i])), combinedNorm);
        const factor = tf.where(tf.greater(combinedNorm, 0), tf.mul(tf.maximum(ratio, 1), this.scale), tf.scalar(0));
        return tf.mul(combined, factor);
      });
      return { grads, cos, mmWeight };
    });
  }

  gradients(ctx: StepContext): { value: tf.Scalar; grads: Gradients } {
    const { view, labels } = ctx;
    const m = view.numModalities;
    const multimodal = ctx.gradients(() => view.baseLoss(ctx.forward(), labels));
    // The extra forward passes must not move batch-norm statistics a second time.
    const statistics = view.model.nonTrainableWeights.map((w) => ({ weight: w, saved: tf.clone(w.read()) }));
    const unimodalLoss = (modalities: number[]) => () => {
      const z = ctx.modalityLogits(ctx.forward());
      return tf.addN(modalities.map((k) => crossEntropy(labels, z[k]))) as tf.Scalar;
    };
    const everyModality = Array.from({ length: m }, (_, k) => k);
    const unimodal = this.unimodalBackwards_ === 1 ? [ctx.gradients(unimodalLoss(everyModality))] : everyModality.map((k) => ctx.gradients(unimodalLoss([k])));
    for (const { weight, saved } of statistics) weight.write(saved);

    const grads: Gradients = {};
    const inEncoder = new Set(view.encoders.flat().map((v) => v.name));
    for (const v of ctx.variables) {
      if (!inEncoder.has(v.name)) grads[v.name] = tf.addN([multimodal.grads[v.name], ...unimodal.map((u) => u.grads[v.name])]);
    }
    const cos: tf.Scalar[] = [];
    const mmWeights: tf.Scalar[] = [];
    view.encoders.forEach((variables, k) => {
      const own = unimodal[unimodal.length === 1 ? 0 : k].grads;
      const combined = this.combine(
        variables.map((v) => multimodal.grads[v.name]),
        variables.map((v) => own[v.name]),
      );
      variables.forEach((v, i) => (grads[v.name] = combined.grads[i]));
      cos.push(combined.cos);
      mmWeights.push(combined.mmWeight);
    });
    ctx.report('cos', tf.stack(cos));
    ctx.report('mmWeight', tf.stack(mmWeights));
    return { value: tf.addN([multimodal.value, ...unimodal.map((u) => u.value)]) as tf.Scalar, grads };
  }

  afterStep(_ctx: StepContext, reported: Record<string, Float32Array>): MmParetoMetrics {
    const metrics: MmParetoMetrics = {};
    reported.cos.forEach((c, k) => {
      metrics[`cos${k}`] = c;
      metrics[`mmWeight${k}`] = reported.mmWeight[k];
    });
    return metrics;
  }

  state(): BalancerState {
    // The weights depend on the current batch's gradients only.
    return { json: {} };
  }

  restore(): void {}
}
