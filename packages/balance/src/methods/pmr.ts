import * as tf from '@tensorflow/tfjs-core';
import { iterateBatches, type BatchSource } from '@mm/metrics';
import type { AttachContext, Balancer, BalancerState, EpochContext, Requirements, StepContext } from '../balancer.js';
import type { ForwardOutputs } from '../fusion/model-view.js';
import { crossEntropy, oneHotLabels, trueClassProbability } from '../losses.js';

/**
 * PMR: Prototypical Modal Rebalance (Fan, Xu, Wu, Zhang & Hu, "PMR: Prototypical Modal Rebalance
 * for Multimodal Learning", CVPR 2023).
 *
 * Measures: class prototypes c_{m,k} = mean feature h_m of class k, computed at each epoch start
 * (`trainer.startEpoch({ train })`) in inference mode from the first 10% of the batches `train`
 * yields (at least one), then kept as an EMA c ← (1 − μ)·c_new + μ·c_old. Each step, prototype
 * logits −‖h_m − c_{m,k}‖ (Euclidean), the prototype score s^p_m = Σ_i softmax(−dist)_i[y_i] and
 * ρ = s^p_0 / s^p_1.
 * Changes: the loss, L = L_model + β·CE(y, −dist_0) + λ·CE(y, −dist_1), so the weaker modality's
 * encoder is pulled toward its class prototypes: ρ > 1 (modality 0 ahead) gives β = 0, λ = α;
 * ρ < 1 gives β = α, λ = 0; ρ = 1 gives both 0. This hard switch is what the reference code
 * does; the paper's exact expression for β and λ is UNVERIFIED (no paper text was available).
 * The prototypes are constants in the step; the gradient reaches the encoders through h_m.
 * Defaults: α 1 (the reference's argument default; BalanceBenchmark uses 0.6), μ 0.2 (the
 * reference's argument default; its scripts use 0, BalanceBenchmark 0.5), 10% of the batches,
 * modulation in every epoch. The EMA starts with the second computation (the first one has
 * nothing to blend with).
 * Beyond the reference: a class with no sample in the prototype batches keeps its previous
 * prototype, and is the zero vector until it has been seen (the reference divides by a zero
 * count and gets NaN); a class seen for the first time takes its new mean without blending.
 * A distance is floored at 1e-6 so that a feature sitting exactly on a prototype has a zero
 * (not NaN) gradient.
 * How many batches are 10%: the length of `train`'s array, else the epoch's `stepsPerEpoch`,
 * else an extra pass that counts (and disposes) the batches; `prototypeBatches` fixes the count.
 * A source that is not an array is closed after the batches used; an array's other batches are
 * disposed.
 * Cost: a distance matrix [B, classes, d_m] per modality per step, no extra backward; one
 * inference pass over the prototype batches per epoch.
 * Needs: per-modality features (any fusion); two modalities (ρ is a ratio of two scores).
 * Under Adam: the method adds a loss term, whose direction Adam keeps; α's magnitude is partly
 * normalised away.
 */
export interface PmrOptions {
  /** Weight α of the prototypical cross-entropy on the weaker modality (default 1). */
  alpha?: number;
  /** EMA momentum μ: c ← (1 − μ)·c_new + μ·c_old (default 0.2). */
  momentum?: number;
  /** Fraction of the training batches the prototypes are computed from (default 0.1; at least one batch). */
  prototypeFraction?: number;
  /** A fixed number of batches for the prototypes instead of the fraction. */
  prototypeBatches?: number;
  /** Rebalance from this epoch on (default 0) … */
  firstEpoch?: number;
  /** … up to and including this epoch (default: to the end). */
  lastEpoch?: number;
}

export interface PmrMetrics {
  [key: string]: number | null;
  /** ρ = s^p_0 / s^p_1 on this batch. */
  rho: number;
  /** Weight of modality 0's prototypical cross-entropy (α when modality 0 is behind, else 0). */
  beta: number;
  /** Weight of modality 1's prototypical cross-entropy (α when modality 1 is behind, else 0). */
  lambda: number;
}

/** Below this distance the gradient of ‖h − c‖ is taken as 0 (its value at h = c is undefined). */
const MIN_DISTANCE = 1e-6;

/** −‖h_i − c_k‖ for every sample i and class k: [B, classes]. */
export function prototypeLogits(features: tf.Tensor2D, prototypes: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => {
    const difference = tf.sub(tf.expandDims(features, 1), tf.expandDims(prototypes, 0));
    const squared = tf.sum(tf.square(difference), -1);
    return tf.neg(tf.sqrt(tf.maximum(squared, MIN_DISTANCE * MIN_DISTANCE))) as tf.Tensor2D;
  });
}

/** Batches in one pass of a source, counted (and disposed) by a pass of their own. */
async function countBatches(train: () => BatchSource): Promise<number> {
  let n = 0;
  for await (const b of iterateBatches(train())) {
    tf.dispose([...b.inputs, b.labels]);
    n++;
  }
  return n;
}

export class Pmr implements Balancer<PmrMetrics> {
  readonly name = 'pmr';
  readonly requirements: Requirements = {
    capabilities: ['features'],
    modalities: { min: 2, max: 2, why: 'ρ is the ratio of two modalities’ prototype scores' },
  };
  readonly alpha: number;
  readonly momentum: number;
  readonly prototypeFraction: number;
  readonly prototypeBatches?: number;
  readonly firstEpoch: number;
  readonly lastEpoch: number;
  /** c_m [classes, d_m] per modality, once an epoch has started with training data. */
  private prototypes?: tf.Tensor2D[];
  /** Classes that have had at least one sample in the prototype batches so far. */
  private seen: boolean[] = [];

  constructor(options: PmrOptions = {}) {
    this.alpha = options.alpha ?? 1;
    this.momentum = options.momentum ?? 0.2;
    this.prototypeFraction = options.prototypeFraction ?? 0.1;
    this.prototypeBatches = options.prototypeBatches;
    this.firstEpoch = options.firstEpoch ?? 0;
    this.lastEpoch = options.lastEpoch ?? Number.POSITIVE_INFINITY;
    if (!(this.alpha >= 0)) throw new Error(`PMR: alpha must be ≥ 0, got ${this.alpha}`);
    if (!(this.momentum >= 0 && this.momentum <= 1)) throw new Error(`PMR: momentum must be in [0, 1], got ${this.momentum}`);
    if (!(this.prototypeFraction > 0 && this.prototypeFraction <= 1)) throw new Error(`PMR: prototypeFraction must be in (0, 1], got ${this.prototypeFraction}`);
    if (this.prototypeBatches !== undefined && !(Number.isInteger(this.prototypeBatches) && this.prototypeBatches >= 1)) {
      throw new Error(`PMR: prototypeBatches must be a whole number ≥ 1, got ${this.prototypeBatches}`);
    }
  }

  attach({ view }: AttachContext): void {
    if (!view.featureSizes) throw new Error('PMR: the model view has no per-modality features');
    this.prototypeShapes = view.featureSizes.map((d) => [view.numClasses, d]);
  }

  /** [classes, d_m] per modality, known once attached (restore checks saved prototypes against them). */
  private prototypeShapes?: number[][];

  /** Copies of the current prototypes c_m [classes, d_m] (undefined before the first epoch start); the caller disposes them. */
  currentPrototypes(): tf.Tensor2D[] | undefined {
    return this.prototypes?.map((c) => tf.clone(c));
  }

  async startEpoch(ctx: EpochContext): Promise<void> {
    if (!ctx.train) {
      throw new Error('PMR needs trainer.startEpoch({ train }) before each epoch: its class prototypes come from the training batches (pass train: () => batches)');
    }
    const source = ctx.train();
    const count = this.prototypeBatches ?? Math.max(1, Math.floor(this.prototypeFraction * (Array.isArray(source) ? source.length : (ctx.stepsPerEpoch ?? (await countBatches(ctx.train))))));
    const classes = ctx.view.numClasses;
    const m = ctx.view.numModalities;
    let sums: tf.Tensor2D[] = ctx.view.featureSizes!.map((d) => tf.zeros([classes, d]));
    let counts: tf.Tensor1D = tf.zeros([classes]);
    let used = 0;
    try {
      for await (const batch of iterateBatches(source)) {
        try {
          if (batch.inputs.length !== m) throw new Error(`PMR: a training batch has ${batch.inputs.length} inputs, the model takes ${m} (one per modality)`);
          const next = tf.tidy(() => {
            const labels = oneHotLabels(batch.labels, classes);
            const features = ctx.forward(batch.inputs, false).features!;
            // Σ_i y_ik·h_i: the per-class feature sums of this batch.
            return { sums: features.map((h, k) => tf.add(sums[k], tf.matMul(labels, h, true, false)) as tf.Tensor2D), counts: tf.add(counts, tf.sum(labels, 0)) as tf.Tensor1D };
          });
          tf.dispose([...sums, counts]);
          ({ sums, counts } = next);
        } finally {
          tf.dispose([...batch.inputs, batch.labels]);
        }
        if (++used >= count) break;
      }
      if (used === 0) throw new Error('PMR: the training source yielded no batches, so there is nothing to compute the class prototypes from');
      const present = Array.from(await counts.data(), (n) => n > 0);
      this.updatePrototypes(sums, counts, present);
    } finally {
      tf.dispose([...sums, counts]);
      // Batches made in advance and not used are still ours to free.
      if (Array.isArray(source)) for (const b of source.slice(used)) tf.dispose([...b.inputs, b.labels]);
    }
  }

  private updatePrototypes(sums: tf.Tensor2D[], counts: tf.Tensor1D, present: boolean[]): void {
    const seenBefore = present.map((_, k) => this.seen[k] ?? false);
    const next = tf.tidy(() => {
      const column = (flags: boolean[]) => tf.tensor2d(flags, [flags.length, 1], 'bool');
      const has = column(present);
      const blend = column(seenBefore);
      const safeCounts = tf.reshape(tf.maximum(counts, 1), [-1, 1]);
      return sums.map((s, m) => {
        const mean = tf.div(s, safeCounts);
        const old = this.prototypes?.[m] ?? tf.zerosLike(mean);
        const ema = tf.add(tf.mul(mean, 1 - this.momentum), tf.mul(old, this.momentum));
        return tf.where(has, tf.where(blend, ema, mean), old) as tf.Tensor2D;
      });
    });
    tf.dispose(this.prototypes);
    this.prototypes = next;
    this.seen = present.map((p, k) => p || seenBefore[k]);
  }

  beforeStep(): void {
    if (!this.prototypes) {
      throw new Error(
        'PMR needs trainer.startEpoch({ train }) before each epoch: no class prototypes yet. Call `await trainer.startEpoch({ train: () => batches })` before the first step (it computes the prototypes from the first 10% of the training batches).',
      );
    }
  }

  private active(ctx: StepContext): boolean {
    return ctx.epoch >= this.firstEpoch && ctx.epoch <= this.lastEpoch;
  }

  loss(ctx: StepContext, out: ForwardOutputs): tf.Scalar {
    const [z0, z1] = out.features!.map((h, m) => prototypeLogits(h, this.prototypes![m]));
    const [s0, s1] = [z0, z1].map((z) => tf.sum(trueClassProbability(ctx.labels, z)));
    // The coefficients depend on the batch but carry no gradient (tf.step's is zero), as the reference's Python floats.
    const [beta, lambda] = this.active(ctx) ? [tf.mul(tf.step(tf.sub(s1, s0)), this.alpha), tf.mul(tf.step(tf.sub(s0, s1)), this.alpha)] : [tf.scalar(0), tf.scalar(0)];
    ctx.report('pmr', ctx.keep(tf.stack([tf.div(s0, s1), beta, lambda])));
    const pull = tf.add(tf.mul(beta, crossEntropy(ctx.labels, z0)), tf.mul(lambda, crossEntropy(ctx.labels, z1)));
    return tf.add(ctx.view.baseLoss(out, ctx.labels), pull) as tf.Scalar;
  }

  afterStep(_ctx: StepContext, reported: Record<string, Float32Array>): PmrMetrics {
    const [rho, beta, lambda] = reported.pmr;
    return { rho, beta, lambda };
  }

  state(): BalancerState {
    const tensors: Record<string, tf.Tensor> = {};
    this.prototypes?.forEach((c, m) => (tensors[`prototypes_m${m}`] = tf.clone(c)));
    return { json: { seen: this.seen, hasPrototypes: this.prototypes !== undefined }, tensors };
  }

  restore(state: BalancerState): void {
    const json = state.json as { seen?: unknown; hasPrototypes?: unknown };
    const seen = json.seen ?? [];
    if (!Array.isArray(seen) || !Array.from(seen).every((s) => typeof s === 'boolean')) throw new Error(`PMR: the saved state's seen flags must be booleans, got ${JSON.stringify(seen)}`);
    const restored = json.hasPrototypes
      ? [0, 1].map((m) => {
          const c = state.tensors?.[`prototypes_m${m}`];
          const shape = this.prototypeShapes?.[m];
          if (!c || c.rank !== 2 || c.dtype !== 'float32') throw new Error(`PMR: the saved state lacks prototypes_m${m} (a float32 [classes, d] tensor)`);
          if (shape && (c.shape[0] !== shape[0] || c.shape[1] !== shape[1])) throw new Error(`PMR: the saved prototypes_m${m} is [${c.shape}], this model needs [${shape}]`);
          return tf.clone(c) as tf.Tensor2D;
        })
      : undefined;
    tf.dispose(this.prototypes);
    this.prototypes = restored;
    this.seen = [...(seen as boolean[])];
  }

  dispose(): void {
    tf.dispose(this.prototypes);
    this.prototypes = undefined;
  }
}
