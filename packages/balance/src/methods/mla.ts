import * as tf from '@tensorflow/tfjs-core';
import type { AttachContext, Balancer, BalancerState, Gradients, Requirements, StepContext } from '../balancer.js';
import type { ForwardOutputs, ModelView } from '../fusion/model-view.js';
import { crossEntropy } from '../losses.js';

/**
 * MLA: Multimodal Learning with Alternating unimodal adaptation (Zhang, Yoon, Bansal & Yao,
 * "Multimodal Representation Learning by Alternating Unimodal Adaptation", CVPR 2024).
 *
 * Measures: each modality's loss (metrics loss0 … loss{M−1}) and α_t; nothing is decided from them.
 * Changes: the training step itself. There is no joint forward pass: per batch, each modality m
 * in turn computes h_m = f_m(x_m) and z_m = H(h_m) with ONE head H shared by every modality,
 * and takes its own optimizer update on CE(y, z_m) for encoder m and H only. Encoders other
 * than m are left out of that update entirely (their momentum or Adam moments do not move), so
 * a batch makes M optimizer updates. The step's loss is the mean of the M losses.
 * Gradient modification (OWM, Zeng et al. 2019) keeps H from forgetting what the other
 * modalities taught it: H's kernel gradient is REPLACED by its projection, g_K ← P_m·g_K
 * (tfjs Dense kernels are [d, C]; this is the reference's grad_W·Pᵀ in PyTorch's [C, d] layout;
 * BalanceBenchmark adds the projection to the gradient instead, g + g·Pᵀ). The bias is not
 * projected (the reference projects the weight only). After modality m's update, with
 * r = mean_batch(h_m) ([1, d]) and α_t = α^(1 + stepInEpoch/stepsPerEpoch) (α_t = α when the
 * epoch's length was not given to `startEpoch`), every projector of another modality absorbs r:
 *   k = P rᵀ,  P ← P − k kᵀ / (α_t + r k),  then P ← P / ‖P‖_F.
 * The denominator is OWM's scalar r P rᵀ; the reference code divides element-wise by the outer
 * product α + k r instead. The Frobenius normalisation is the reference code's; OWM has none and
 * the paper's text was not available to check (it is on by default; `normalizeProjector: false`).
 * One projector per modality, built from the OTHER modalities' features: OWM protects the
 * input space of what was learnt before, and what H must keep while it fits modality m is its
 * mapping of the other modalities' features. The reference keeps one P shared by all
 * modalities, which also absorbs m's own feature right before projecting m's gradient, shrinking
 * H's update along the very direction m is learning; batches of one modality come from one
 * distribution and need no protection from each other. P_m starts as the d×d identity and is
 * not applied while it has absorbed nothing, which skips the projection on the very first
 * update (as the reference does) and, per modality, until another modality has been trained.
 * Prediction (`predict`): the sum of the per-modality logits weighted per sample by confidence,
 * w_m,i ∝ exp(H_max,i − H_m,i) with H_m,i the entropy of softmax(z_m,i) (the reference takes
 * the softmax over the batch dimension and gets one weight per modality per batch; here each
 * sample's own confidence decides, as BalanceBenchmark), or fixed weights (default 1/M).
 * Defaults: α 0.1 and the projection on (reference), entropy fusion (the paper's test-time
 * fusion; the reference's default is fixed weights 0.5/0.5, entropy fusion behind a flag); the
 * reference trains with SGD, lr 1e-3. Logits: the model's heads (a shared-head model; h_m must all have width d).
 * Cost: M forward/backward passes over one branch and the head and M optimizer updates (each with
 * the trainer's finiteness read-back) per batch, plus O(M·d²) for the projectors (d×d each).
 * Under Adam: every unimodal update is one Adam step (bias corrections advance M times a batch),
 * and Adam's element-wise scaling moves the update out of P's subspace, so the projection no
 * longer guarantees orthogonality; the same holds for the head's momentum, which carries one
 * modality's update into the next. Use SGD, as the paper.
 * Modalities: any number (the paper runs three).
 * Non-finite losses: the trainer checks each update; when modality k's update is skipped
 * (nonFinite 'skip') the batch's later updates are skipped too, but the updates of the
 * modalities before k in that batch have been applied.
 */
export interface MlaOptions {
  /** α of α_t = α^(1 + stepInEpoch/stepsPerEpoch), OWM's regulariser (default 0.1). */
  alpha?: number;
  /** Project the shared head's kernel gradient (default true; false is the paper's ablation without gradient modification). */
  projection?: boolean;
  /** Divide each projector by its Frobenius norm after every update, as the reference code (default true). */
  normalizeProjector?: boolean;
  /** Test-time fusion of the per-modality logits: per-sample entropy weights (default) or fixed weights. */
  fusion?: 'entropy' | 'fixed';
  /** Weights of fixed fusion, one per modality, used as given (default 1/M each). */
  fusionWeights?: number[];
}

export interface MlaMetrics {
  [key: string]: number | null;
  /** α_t of this batch's projector updates. */
  alpha: number;
}

export class Mla implements Balancer<MlaMetrics> {
  readonly name = 'mla';
  readonly requirements: Requirements = {
    capabilities: ['shared-head', 'separable-branches'],
    modalityLogits: ['heads'],
  };
  readonly alpha: number;
  readonly projection: boolean;
  readonly normalizeProjector: boolean;
  readonly fusion: 'entropy' | 'fixed';
  private readonly fixedWeights?: number[];
  private numModalities = 0;
  private kernel?: tf.Variable;
  private headVariables: tf.Variable[] = [];
  /** P_m, used on modality m's head gradient, built from the other modalities' features. */
  private projectors: tf.Tensor2D[] = [];
  /** How many features each P_m has absorbed (0: still the identity, not applied). */
  private absorbed: number[] = [];
  private stepAlpha = Number.NaN;
  /**
   * The epoch length last given to the trainer. The trainer keeps it across epochs but its
   * checkpoint does not hold it, so a resumed run would fall back to α_t = α until the next
   * `startEpoch`; carrying it in this method's state keeps the resumed run identical.
   */

  constructor(options: MlaOptions = {}) {
    this.alpha = options.alpha ?? 0.1;
    this.projection = options.projection ?? true;
    this.normalizeProjector = options.normalizeProjector ?? true;
    this.fusion = options.fusion ?? (options.fusionWeights ? 'fixed' : 'entropy');
    this.fixedWeights = options.fusionWeights ? [...options.fusionWeights] : undefined;
    if (!(this.alpha > 0 && Number.isFinite(this.alpha))) throw new Error(`MLA: alpha must be a finite number > 0, got ${this.alpha}`);
    if (this.fusion !== 'entropy' && this.fusion !== 'fixed') throw new Error(`MLA: fusion must be 'entropy' or 'fixed', got ${String(this.fusion)}`);
    if (this.fusion === 'entropy' && this.fixedWeights) throw new Error("MLA: fusionWeights are for fusion 'fixed'; remove them or set fusion: 'fixed'");
    if (this.fixedWeights?.some((w) => !(w >= 0 && Number.isFinite(w)))) {
      throw new Error(`MLA: fusionWeights must be finite numbers ≥ 0, got [${this.fixedWeights.join(', ')}]`);
    }
  }

  attach({ view }: AttachContext): void {
    const m = view.numModalities;
    if (this.fixedWeights && this.fixedWeights.length !== m) {
      throw new Error(`MLA: fusionWeights has ${this.fixedWeights.length} weight(s), the model has ${m} modalities; give one weight per modality`);
    }
    if (view.encoders.some((e) => e.length === 0)) throw new Error('MLA: a modality has no encoder parameters to train');
    this.headVariables = view.sharedHeadVariables();
    const trained = new Set([...view.encoders.flat(), ...this.headVariables]);
    const untrained = view.model.trainableWeights.map((w) => w.read() as tf.Variable).filter((v) => !trained.has(v));
    if (untrained.length > 0) {
      throw new Error(`MLA trains each encoder and the shared head only; these trainable weights are in neither and would never change: ${untrained.map((v) => v.name).join(', ')}`);
    }
    this.numModalities = m;
    if (!this.projection) return;
    const d = view.featureSizes?.[0];
    this.kernel = this.headVariables.find((v) => v.rank === 2 && v.shape[0] === d);
    if (d === undefined || !this.kernel) {
      throw new Error(`MLA's gradient modification needs a Dense shared head with a kernel [d, classes] on features of width d; this head's weights are ${this.headVariables.map((v) => `[${v.shape}]`).join(', ')} (or pass projection: false)`);
    }
    this.disposeProjectors();
    this.projectors = Array.from({ length: m }, () => tf.eye(d) as tf.Tensor2D);
    this.absorbed = new Array(m).fill(0);
  }

  /** α_t = α^(1 + stepInEpoch/stepsPerEpoch); α when the epoch's length is unknown. */
  static alphaAt(alpha: number, stepInEpoch: number, stepsPerEpoch: number | undefined): number {
    return stepsPerEpoch ? alpha ** (1 + stepInEpoch / stepsPerEpoch) : alpha;
  }

  /** OWM's update of a projector with a mean feature r [1, d]: P − (P rᵀ)(P rᵀ)ᵀ/(α + r P rᵀ), optionally over its Frobenius norm. */
  static absorb(projector: tf.Tensor2D, feature: tf.Tensor2D, alpha: number, normalize: boolean): tf.Tensor2D {
    return tf.tidy(() => {
      const k = tf.matMul(projector, feature, false, true);
      const next = tf.sub(projector, tf.div(tf.matMul(k, k, false, true), tf.add(tf.matMul(feature, k), alpha))) as tf.Tensor2D;
      return normalize ? (tf.div(next, tf.sqrt(tf.sum(tf.square(next)))) as tf.Tensor2D) : next;
    });
  }

  step(ctx: StepContext): tf.Scalar {
    this.stepAlpha = Mla.alphaAt(this.alpha, ctx.stepInEpoch, ctx.stepsPerEpoch);
    const losses: tf.Scalar[] = [];
    const outcome = { applied: true };
    for (let m = 0; m < this.numModalities && outcome.applied; m++) {
      // Each update's gradients are freed before the next modality's pass.
      losses.push(tf.tidy(() => this.updateModality(ctx, m, outcome)));
    }
    const stacked = tf.stack(losses);
    ctx.report('losses', stacked);
    return tf.mean(stacked) as tf.Scalar;
  }

  /** One unimodal update: CE(y, H(h_m)) for encoder m and H, the head's kernel gradient projected. */
  private updateModality(ctx: StepContext, m: number, outcome: { applied: boolean }): tf.Scalar {
    let meanFeature: tf.Tensor2D | undefined;
    const { value, grads } = ctx.gradients(() => {
      const feature = ctx.view.branchFeature(m, ctx.batch.inputs[m], true);
      if (this.projection) meanFeature = ctx.keep(tf.mean(feature, 0, true) as tf.Tensor2D);
      return crossEntropy(ctx.labels, ctx.view.applySharedHead(feature));
    });
    // `gradients` zero-fills every variable; only encoder m and the head take part in this update.
    const update: Gradients = {};
    for (const v of [...ctx.view.encoders[m], ...this.headVariables]) update[v.name] = grads[v.name];
    if (this.kernel && this.absorbed[m] > 0) update[this.kernel.name] = tf.matMul(this.projectors[m], grads[this.kernel.name]);
    // A skipped update (non-finite, policy 'skip') ends the batch: its later modalities are left out too.
    outcome.applied = ctx.applyGradients(update, value);
    if (outcome.applied && meanFeature) {
      for (let k = 0; k < this.numModalities; k++) {
        if (k === m) continue;
        const next = tf.keep(Mla.absorb(this.projectors[k], meanFeature, this.stepAlpha, this.normalizeProjector));
        this.projectors[k].dispose();
        this.projectors[k] = next;
        this.absorbed[k]++;
      }
    }
    return value;
  }

  afterStep(_ctx: StepContext, reported: Record<string, Float32Array>): MlaMetrics {
    const metrics: MlaMetrics = { alpha: this.stepAlpha };
    reported.losses.forEach((loss, m) => (metrics[`loss${m}`] = loss));
    return metrics;
  }

  predict(_view: ModelView, _out: ForwardOutputs, modalityLogits: () => tf.Tensor2D[]): tf.Tensor2D {
    const logits = modalityLogits();
    if (this.fusion === 'fixed') {
      const weights = this.fixedWeights ?? logits.map(() => 1 / logits.length);
      return tf.addN(logits.map((z, m) => tf.mul(z, weights[m]))) as tf.Tensor2D;
    }
    return tf.sum(tf.mul(Mla.entropyWeights(logits), tf.stack(logits)), 0) as tf.Tensor2D;
  }

  /**
   * Per-sample fusion weights [M, B, 1]: w_m,i = exp(H_max,i − H_m,i) / Σ_k exp(H_max,i − H_k,i),
   * H_m,i the entropy of softmax(z_m,i); the most confident modality of each sample weighs most.
   */
  static entropyWeights(logits: tf.Tensor2D[]): tf.Tensor3D {
    return tf.tidy(() => {
      const entropies = tf.stack(logits.map((z) => tf.neg(tf.sum(tf.mul(tf.softmax(z), tf.logSoftmax(z)), -1, true))));
      // exp(H_max − H_m) normalised over m is a softmax of −H_m; subtracting the max only keeps it finite.
      return tf.transpose(tf.softmax(tf.neg(tf.transpose(entropies, [1, 2, 0]))), [2, 0, 1]) as tf.Tensor3D;
    });
  }

  state(): BalancerState {
    const tensors: Record<string, tf.Tensor> = {};
    this.projectors.forEach((p, m) => (tensors[`projector${m}`] = tf.clone(p)));
    return { json: { absorbed: [...this.absorbed] }, tensors };
  }

  restore(state: BalancerState): void {
    const json = state.json as { absorbed?: unknown };
    const absorbed = json.absorbed ?? [];
    if (!Array.isArray(absorbed) || !Array.from(absorbed).every((n) => Number.isSafeInteger(n) && (n as number) >= 0)) {
      throw new Error(`MLA: the saved state's absorbed counts must be integers ≥ 0, got ${JSON.stringify(absorbed)}`);
    }
    if (absorbed.length !== this.projectors.length) {
      throw new Error(`MLA: the saved state has ${absorbed.length} projector(s), this balancer ${this.projectors.length}; restore into a trainer with the same model and the same projection option`);
    }
    // Every projector checked before any is copied: a refusal leaves nothing allocated.
    const saved = this.projectors.map((p, m) => {
      const t = state.tensors?.[`projector${m}`];
      if (!t || JSON.stringify(t.shape) !== JSON.stringify(p.shape) || t.dtype !== 'float32') {
        throw new Error(`MLA: the saved state's projector${m} is ${t ? `${t.dtype} [${t.shape}]` : 'missing'}, expected float32 [${p.shape}]`);
      }
      return t;
    });
    const restored = saved.map((t) => tf.clone(t) as tf.Tensor2D);
    this.disposeProjectors();
    this.projectors = restored;
    this.absorbed = [...(absorbed as number[])];
  }

  dispose(): void {
    this.disposeProjectors();
  }

  private disposeProjectors(): void {
    tf.dispose(this.projectors);
    this.projectors = [];
  }
}
