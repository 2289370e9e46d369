import * as tf from '@tensorflow/tfjs-core';
import { iterateBatches, type BatchSource, type LabeledBatch } from '@mm/metrics';
import type { AttachContext, Balancer, BalancerState, EpochContext, Requirements, StepContext } from '../balancer.js';
import type { ForwardOutputs } from '../fusion/model-view.js';
import { crossEntropy, crossEntropyPerSample, oneHotLabels } from '../losses.js';
import { disposeOptimizer, freshOptimizerLike } from '../optimizer-copy.js';

/**
 * Gradient Blending, online (Wang, Tran & Feiszli, "What Makes Training Multi-Modal
 * Classification Networks Hard?", CVPR 2020).
 *
 * Loss: L = Σ_k w_k·CE(z_k) + w_fused·CE(prediction), with z_k the per-modality logits — the
 * model's own heads (mmtm, shared-head, heads models) or auxiliary linear heads on the features
 * h_k that the trainer adds (late models) — and the prediction the model's fused output.
 * Measures: at the start of every `superEpoch`-th epoch (0 included), from the current weights
 * θ_s, for each objective k ∈ {modality 0 … M−1, fused}: a temporary copy trained on CE(z_k) alone
 * for `estimationSteps` batches of the training data (a fresh optimizer of the same class and
 * settings as the run's), with the training loss L_T on those batches and the held-out loss G on
 * the validation data measured before and after, in inference mode. Then (the paper's weight)
 *   w_k ∝ ΔG_k / (ΔO_k)²,  ΔG = G_before − G_after,  O = G − L_T,  ΔO = O_after − O_before,
 * with |ΔO| floored at ε, a negative ΔG (the copy got worse on held-out data) clipped to 0, the
 * weights normalised to sum 1, and uniform weights when every ΔG is ≤ 0. Every variable (model
 * weights and statistics, auxiliary heads) is written back afterwards: the estimate leaves the
 * model and the run's optimizer exactly as they were. Until the first estimate the weights are
 * uniform.
 * Defaults: superEpoch 1 — the paper's online variant re-estimates at every super-epoch, whose
 * length equals its estimation window; here the window is `estimationSteps` batches, so the
 * smallest interval the trainer knows, one epoch, keeps the weights current (BalanceBenchmark
 * re-estimates every 10 epochs with 10-epoch windows: `superEpoch: 10, estimationSteps: ∞`).
 * estimationSteps 20 (one pass over the training batches when shorter), ε 1e-4 (MultiBench's
 * floor on O). No public code from the authors computes the weights; MultiBench and
 * BalanceBenchmark also train model copies.
 * Cost per estimate: M+1 temporary trainings of `estimationSteps` steps each, plus one inference
 * pass over the held batches and the held-out data before and one per copy after; the
 * `estimationSteps` batches are held in memory meanwhile. Per step: the M+1 cross-entropies, no
 * extra pass. Under Adam: Adam's per-parameter normalisation cancels a weight on a parameter
 * that only one term reaches (a per-modality head, a late model's fused head); the weights still
 * balance the terms on an encoder, which both its modality's term and the fused one reach. The
 * paper trains with SGD. Any number of modalities.
 * Needs: per-modality logits ('heads', else 'aux'), and `train` and `validation` batches in
 * `trainer.startEpoch` (a held-out split the model does not train on).
 */
export interface GradientBlendingOptions {
  /** Re-estimate the weights at the start of every `superEpoch`-th epoch, epoch 0 included (default 1). */
  superEpoch?: number;
  /** Batches each temporary training takes from one pass over the training data (default 20; fewer when the pass is shorter). */
  estimationSteps?: number;
  /** Floor of |ΔO| in the weight ΔG/ΔO² (default 1e-4). */
  epsilon?: number;
}

/** What one temporary training measured (mean cross-entropies per sample, inference mode). */
export interface ObjectiveMeasurement {
  /** 'modality k' or 'fused'. */
  objective: string;
  /** L_T before and after, on the batches the copy trained on. */
  trainBefore: number;
  trainAfter: number;
  /** G before and after, on the held-out data. */
  heldOutBefore: number;
  heldOutAfter: number;
  /** ΔG = G_before − G_after. */
  deltaG: number;
  /** ΔO = O_after − O_before with O = G − L_T. */
  deltaO: number;
}

export interface BlendingEstimate {
  /** The epoch at whose start the estimate was made. */
  epoch: number;
  /** Batches each temporary training took. */
  steps: number;
  /** Modalities 0 … M−1, then the fused prediction. */
  objectives: ObjectiveMeasurement[];
  /** The weights derived from the measurements: w_0 … w_{M−1}, w_fused. */
  weights: number[];
  /** True when no objective had ΔG > 0 and the weights fell back to uniform. */
  uniformFallback: boolean;
}

export interface GradientBlendingMetrics {
  [key: string]: number | null;
  /** The loss weight of the fused prediction (w0, w1, … are the modalities'). */
  wFused: number;
}

function uniform(count: number): number[] {
  return new Array(count).fill(1 / count);
}

function disposeBatch(batch: LabeledBatch): void {
  tf.dispose([...batch.inputs, batch.labels]);
}

/** The first `count` batches of one pass. A source's batches are the consumer's to dispose, so an array's remaining ones are freed; a generator is just stopped. */
async function takeBatches(source: BatchSource, count: number): Promise<LabeledBatch[]> {
  if (Array.isArray(source)) {
    source.slice(count).forEach(disposeBatch);
    return source.slice(0, count);
  }
  const taken: LabeledBatch[] = [];
  for await (const batch of iterateBatches(source)) {
    taken.push(batch);
    if (taken.length >= count) break;
  }
  return taken;
}

export class GradientBlending implements Balancer<GradientBlendingMetrics> {
  readonly name = 'gradient-blending';
  readonly requirements: Requirements = { modalityLogits: ['heads', 'aux'] };
  readonly superEpoch: number;
  readonly estimationSteps: number;
  readonly epsilon: number;
  private weights_?: number[];
  private estimates = 0;
  private last?: BlendingEstimate;
  private warn: (message: string) => void = () => {};
  private warnedUnestimated = false;

  constructor(options: GradientBlendingOptions = {}) {
    this.superEpoch = options.superEpoch ?? 1;
    this.estimationSteps = options.estimationSteps ?? 20;
    this.epsilon = options.epsilon ?? 1e-4;
    if (!(Number.isInteger(this.superEpoch) && this.superEpoch >= 1)) throw new Error(`Gradient Blending: superEpoch must be a whole number of epochs ≥ 1, got ${this.superEpoch}`);
    if (!(this.estimationSteps >= 1)) throw new Error(`Gradient Blending: estimationSteps must be ≥ 1 (batches per temporary training), got ${this.estimationSteps}`);
    if (!(this.epsilon > 0)) throw new Error(`Gradient Blending: epsilon (the floor of |ΔO|) must be > 0, got ${this.epsilon}`);
  }

  /** The current loss weights: w_0 … w_{M−1}, w_fused (uniform until the first estimate). */
  get weights(): readonly number[] {
    if (!this.weights_) throw new Error('Gradient Blending: the weights are sized when a trainer attaches the method');
    return this.weights_;
  }

  /** The measurements and weights of the latest estimate (undefined before the first). */
  get lastEstimate(): BlendingEstimate | undefined {
    return this.last;
  }

  /**
   * w_k = max(ΔG_k, 0) / max(|ΔO_k|, ε)², normalised to sum 1; uniform when all are 0. A
   * non-finite measurement (a temporary training that diverged) gives its objective weight 0.
   */
  static blendingWeights(measurements: readonly { deltaG: number; deltaO: number }[], epsilon: number): { weights: number[]; uniformFallback: boolean } {
    const raw = measurements.map(({ deltaG, deltaO }) => {
      if (!Number.isFinite(deltaG) || !Number.isFinite(deltaO)) return 0;
      return Math.max(deltaG, 0) / Math.max(Math.abs(deltaO), epsilon) ** 2;
    });
    const total = raw.reduce((a, b) => a + b, 0);
    if (!(total > 0) || !Number.isFinite(total)) return { weights: uniform(raw.length), uniformFallback: true };
    return { weights: raw.map((r) => r / total), uniformFallback: false };
  }

  attach({ view, warn }: AttachContext): void {
    this.warn = warn;
    const count = view.numModalities + 1;
    if (this.weights_ && this.weights_.length !== count) {
      throw new Error(`Gradient Blending: the restored state has ${this.weights_.length} weights, this model needs ${count} (one per modality and the fused prediction)`);
    }
    this.weights_ ??= uniform(count);
  }

  beforeStep(): void {
    if (this.estimates === 0 && !this.warnedUnestimated) {
      this.warnedUnestimated = true;
      this.warn('gradient-blending: no weights estimated yet, training with uniform weights; call trainer.startEpoch({ train, validation }) at the start of each epoch so the method can estimate them');
    }
  }

  /** The objective k's logits: modality k's, or the fused prediction's for k = M. */
  private objectiveLogits(modalityLogits: (out: ForwardOutputs) => tf.Tensor2D[], out: ForwardOutputs): tf.Tensor2D[] {
    return [...modalityLogits(out), out.prediction];
  }

  loss(ctx: StepContext, out: ForwardOutputs): tf.Scalar {
    const w = this.weights;
    const terms = this.objectiveLogits((o) => ctx.modalityLogits(o), out).map((z, k) => tf.mul(crossEntropy(ctx.labels, z), w[k]));
    return tf.addN(terms) as tf.Scalar;
  }

  afterStep(): GradientBlendingMetrics {
    const w = this.weights;
    const metrics: GradientBlendingMetrics = { wFused: w[w.length - 1] };
    for (let k = 0; k < w.length - 1; k++) metrics[`w${k}`] = w[k];
    return metrics;
  }

  async startEpoch(ctx: EpochContext): Promise<void> {
    if (ctx.epoch % this.superEpoch !== 0) return;
    const when = `at the start of epoch ${ctx.epoch} (every ${this.superEpoch} epoch${this.superEpoch === 1 ? '' : 's'})`;
    if (!ctx.validation) {
      throw new Error(`Gradient Blending estimates its loss weights on held-out data ${when}: pass validation: () => batches of a split the model does not train on to trainer.startEpoch`);
    }
    if (!ctx.train) {
      throw new Error(`Gradient Blending trains temporary copies on the training data ${when}: pass train: () => training batches to trainer.startEpoch`);
    }
    const estimate = await this.estimate(ctx, ctx.train, ctx.validation);
    const bad = estimate.objectives.filter((o) => !Number.isFinite(o.deltaG) || !Number.isFinite(o.deltaO)).map((o) => o.objective);
    if (bad.length) this.warn(`gradient-blending: the temporary training of ${bad.join(', ')} gave non-finite losses (epoch ${ctx.epoch}); weight 0 for it. Lower the learning rate?`);
    if (estimate.uniformFallback) this.warn(`gradient-blending: no objective improved its held-out loss in the temporary trainings (epoch ${ctx.epoch}); using uniform weights`);
    this.weights_ = estimate.weights;
    this.last = estimate;
    this.estimates++;
  }

  private async estimate(ctx: EpochContext, train: () => BatchSource, validation: () => BatchSource): Promise<BlendingEstimate> {
    const model = ctx.view.model;
    // Everything a temporary training writes: trainable weights, statistics (batch norm, fusion), auxiliary heads.
    const state = [...new Set([...model.weights.map((w) => w.read() as tf.Variable), ...ctx.variables])];
    const batches = await takeBatches(train(), this.estimationSteps);
    let snapshot: tf.Tensor[] = [];
    try {
      if (batches.length === 0) throw new Error('Gradient Blending: the training data given to startEpoch yielded no batches; the temporary trainings need some');
      const trainBefore = await this.meanLosses(ctx, batches, false);
      const heldOutBefore = await this.meanLosses(ctx, validation(), true);
      snapshot = state.map((v) => tf.clone(v));
      const count = ctx.view.numModalities + 1;
      const objectives: ObjectiveMeasurement[] = [];
      for (let k = 0; k < count; k++) {
        const optimizer = freshOptimizerLike(ctx.optimizer, 'Gradient Blending');
        try {
          for (const batch of batches) this.trainStep(ctx, k, batch, optimizer);
          const trainAfter = (await this.meanLosses(ctx, batches, false))[k];
          const heldOutAfter = (await this.meanLosses(ctx, validation(), true))[k];
          const deltaG = heldOutBefore[k] - heldOutAfter;
          const deltaO = heldOutAfter - trainAfter - (heldOutBefore[k] - trainBefore[k]);
          objectives.push({ objective: k < count - 1 ? `modality ${k}` : 'fused', trainBefore: trainBefore[k], trainAfter, heldOutBefore: heldOutBefore[k], heldOutAfter, deltaG, deltaO });
        } finally {
          disposeOptimizer(optimizer);
          state.forEach((v, i) => v.assign(snapshot[i]));
        }
      }
      const { weights, uniformFallback } = GradientBlending.blendingWeights(objectives, this.epsilon);
      return { epoch: ctx.epoch, steps: batches.length, objectives, weights, uniformFallback };
    } finally {
      tf.dispose(snapshot);
      batches.forEach(disposeBatch);
    }
  }

  /** One update of the temporary copy on objective k alone. */
  private trainStep(ctx: EpochContext, k: number, batch: LabeledBatch, optimizer: tf.Optimizer): void {
    tf.tidy(() => {
      const labels = oneHotLabels(batch.labels, ctx.view.numClasses);
      const { grads } = tf.variableGrads(() => crossEntropy(labels, this.objectiveLogits((o) => ctx.modalityLogits(o), ctx.forward(batch.inputs, true))[k]), [...ctx.variables]);
      // The same variables in the same order at every step of this copy (tfjs keys optimizer slots by position).
      optimizer.applyGradients(Object.fromEntries(ctx.variables.filter((v) => grads[v.name] != null).map((v) => [v.name, grads[v.name]])));
    });
  }

  /** Mean cross-entropy per sample of every objective over the batches, in inference mode. */
  private async meanLosses(ctx: EpochContext, batches: BatchSource, owned: boolean): Promise<number[]> {
    const sums = new Array<number>(ctx.view.numModalities + 1).fill(0);
    let samples = 0;
    for await (const batch of iterateBatches(batches)) {
      try {
        const perObjective = tf.tidy(() => {
          const labels = oneHotLabels(batch.labels, ctx.view.numClasses);
          const logits = this.objectiveLogits((o) => ctx.modalityLogits(o), ctx.forward(batch.inputs, false));
          return tf.stack(logits.map((z) => tf.sum(crossEntropyPerSample(labels, z))));
        });
        const values = await perObjective.data();
        perObjective.dispose();
        values.forEach((v, k) => (sums[k] += v));
        samples += batch.labels.shape[0];
      } finally {
        if (owned) disposeBatch(batch);
      }
    }
    if (samples === 0) throw new Error(`Gradient Blending: the ${owned ? 'held-out' : 'training'} data given to startEpoch has no samples`);
    return sums.map((s) => s / samples);
  }

  state(): BalancerState {
    return { json: { weights: this.weights_ ?? null, estimates: this.estimates, lastEstimate: this.last ?? null } };
  }

  restore(state: BalancerState): void {
    const json = state.json as { weights?: unknown; estimates?: unknown; lastEstimate?: BlendingEstimate | null };
    const weights = json.weights;
    if (!Array.isArray(weights) || weights.length < 3 || weights.some((w) => typeof w !== 'number' || !Number.isFinite(w) || w < 0)) {
      throw new Error(`Gradient Blending: saved weights must be M+1 ≥ 3 finite non-negative numbers, got ${JSON.stringify(weights)}`);
    }
    if (this.weights_ && this.weights_.length !== weights.length) {
      throw new Error(`Gradient Blending: the saved state has ${weights.length} weights, this model needs ${this.weights_.length} (one per modality and the fused prediction)`);
    }
    this.weights_ = [...(weights as number[])];
    this.estimates = typeof json.estimates === 'number' ? json.estimates : 0;
    this.last = json.lastEstimate ?? undefined;
  }
}
