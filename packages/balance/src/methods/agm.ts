import * as tf from '@tensorflow/tfjs-core';
import type { AttachContext, Balancer, BalancerState, Requirements, StepContext } from '../balancer.js';
import type { ForwardOutputs } from '../fusion/model-view.js';
import { crossEntropy, crossEntropyPerSample } from '../losses.js';

/**
 * AGM: Adaptive Gradient Modulation (Li, Li, Hu, Lei, Li & Zhou, "Boosting Multi-modal Model
 * Performance with Adaptive Gradient Modulation", ICCV 2023).
 *
 * Measures: each modality's mono-modal response o_m, its zero-padding Shapley value on the
 * model's prediction logits f (a modality "absent" from a coalition has its input replaced by
 * zeros; the empty coalition is worth 0, so Σ_m o_m = f(all)). For two modalities
 *   o_a = ½(f(a,v) − f(0,v) + f(a,0)),  o_v = ½(f(a,v) − f(a,0) + f(0,v)).
 * Its score is a cross-entropy, s_m = mean_i −log max(softmax(o_m,i)[y_i], 1e-8) (lower = stronger),
 * compared with the others' by ratio_m = exp(mean_{j≠m} s_j − s_m) (two modalities:
 * ratio_a = exp(s_v − s_a), the official code's order), and the same contrast of the running
 * means of the scores over all previous steps, T_m (0 before the first step),
 * optimal_m = exp(mean_{j≠m} T_j − T_m).
 * Changes: k_m = exp(α·min(optimal_m − ratio_m, clip)). The loss is CE(y, Σ_m g_m(o_m)) where g_m
 * is the identity forward and multiplies its incoming gradient by k_m, so every gradient that
 * reaches the model through modality m's response is scaled by k_m. k_m < 1 exactly when m's
 * score fell below its running mean by more than the others' did on average: the modality that is
 * pulling ahead of its usual share is slowed, the others are sped up. The running means are
 * updated with this step's scores after k is computed, as in the reference.
 * Per-modality logits: none needed; the responses come from the prediction of zero-padded inputs,
 * so any fusion works. The loss is the CE of the prediction (for a model with one head per
 * modality this replaces its Σ_k CE(head_k)).
 * Defaults: α 1.0, the released code's default. The authors' replies give 1.5 (CREMA-D), 2.5
 * (AV-MNIST, also the README's example) and 4.0 (UR-Funny) for runs of 800–1500 epochs, and
 * the reference script also clips the gradient norm to 1 whenever a head weight's gradient leaves
 * [−1, 1], which is not part of the method and not done here; with k up to exp(α·clip), the
 * smallest of these values is the safer start on a new dataset. clip 10 as the reference's two-
 * modality script (its three-modality script uses 7). Modulation over the whole run; the running
 * means are updated on every step, inside or outside the [firstEpoch, lastEpoch] window (k = 1
 * outside it).
 * Cost: 2^M − 1 forward passes per step (2 extra for two modalities, 6 for three), run in
 * inference mode as the reference's eval() passes (batch-norm moving statistics, no dropout,
 * no statistic updates) but inside the gradient tape, so they are also differentiated.
 * Under Adam: k_m scales one response's share of the gradient, and the responses share the
 * head and (through the padded passes) every encoder, so the summed gradient changes direction,
 * not only length; Adam's normalisation removes the common scale but not that change of
 * direction, so part of the modulation survives (SGD keeps all of it).
 * Modalities: 2 or 3 (2^M − 1 passes per step; the reference defines 2 and 3).
 */
export interface AgmOptions {
  /** Modulation strength α (default 1.0). */
  alpha?: number;
  /** Upper clip of optimal_m − ratio_m before the exponential (default 10). */
  clip?: number;
  /** Modulate from this epoch on (default 0) … */
  firstEpoch?: number;
  /** … up to and including this epoch (default: to the end). */
  lastEpoch?: number;
}

/** k{m}: the gradient scale of modality m this step (1 outside the modulation epochs); score{m}: its score s_m. */
export type AgmMetrics = Record<string, number>;

/** Scores are cross-entropies with the probability floored at 1e-8, i.e. at most −ln 1e-8. */
const MAX_SCORE = -Math.log(1e-8);

const factorial = (n: number): number => (n <= 1 ? 1 : n * factorial(n - 1));

/** exp(mean_{j≠m} v_j − v_m) for every m. */
function contrast(values: tf.Tensor1D): tf.Tensor1D {
  return tf.tidy(() => {
    const m = values.shape[0];
    return tf.exp(tf.div(tf.sub(tf.sum(values), tf.mul(values, m)), m - 1)) as tf.Tensor1D;
  });
}

/** The identity, whose gradient is multiplied by `scale` (a constant: nothing flows into it). */
function scaleGradient(x: tf.Tensor2D, scale: tf.Scalar): tf.Tensor2D {
  const op = tf.customGrad((...args: unknown[]) => ({
    value: tf.clone(args[0] as tf.Tensor2D),
    gradFunc: (dy: tf.Tensor2D) => tf.mul(dy, scale),
  }));
  return op(x) as tf.Tensor2D;
}

export class Agm implements Balancer<AgmMetrics> {
  readonly name = 'agm';
  readonly requirements: Requirements = {
    modalities: { min: 2, max: 3, why: 'the zero-padding Shapley responses take 2^M − 1 forward passes per step; the method is defined for 2 and 3' },
  };
  readonly alpha: number;
  readonly clip: number;
  readonly firstEpoch: number;
  readonly lastEpoch: number;
  /** T_m: the mean score of modality m over the steps so far. */
  private runningScores: number[] = [];
  /** Steps whose scores are in the running means. */
  private count = 0;

  constructor(options: AgmOptions = {}) {
    this.alpha = options.alpha ?? 1.0;
    this.clip = options.clip ?? 10;
    this.firstEpoch = options.firstEpoch ?? 0;
    this.lastEpoch = options.lastEpoch ?? Number.POSITIVE_INFINITY;
    if (!(this.alpha >= 0 && Number.isFinite(this.alpha))) throw new Error(`AGM: alpha must be a finite number ≥ 0, got ${options.alpha}`);
    if (!(this.clip > 0)) throw new Error(`AGM: clip must be > 0 (it bounds optimal − ratio before exp), got ${options.clip}`);
    if (!(this.lastEpoch >= this.firstEpoch)) throw new Error(`AGM: lastEpoch (${options.lastEpoch}) is before firstEpoch (${this.firstEpoch})`);
  }

  /** The running means T_m and how many steps they average (a copy). */
  get running(): { scores: number[]; steps: number } {
    return { scores: [...this.runningScores], steps: this.count };
  }

  attach({ view }: AttachContext): void {
    if (this.runningScores.length === 0) this.runningScores = new Array(view.numModalities).fill(0);
    else if (this.runningScores.length !== view.numModalities) {
      throw new Error(`AGM: this balancer holds running scores for ${this.runningScores.length} modalities, the model has ${view.numModalities}; use a new Agm for this model`);
    }
  }

  /**
   * Shapley weights of the coalitions: c[m][S − 1] for the coalitions S = 1 … 2^M − 1 (bit j set:
   * modality j present), so that o_m = Σ_S c[m][S−1]·f(S) with the empty coalition worth 0:
   * +|S−1|!(M−|S|)!/M! where m ∈ S, −|S|!(M−|S|−1)!/M! where m ∉ S.
   */
  static shapleyCoefficients(numModalities: number): number[][] {
    const m = numModalities;
    const full = (1 << m) - 1;
    const size = (s: number) => s.toString(2).split('').filter((b) => b === '1').length;
    return Array.from({ length: m }, (_, j) =>
      Array.from({ length: full }, (_, index) => {
        const s = index + 1;
        const n = size(s);
        return (s >> j) & 1 ? (factorial(n - 1) * factorial(m - n)) / factorial(m) : -(factorial(n) * factorial(m - n - 1)) / factorial(m);
      }),
    );
  }

  /** The mono-modal responses o_m from the predictions f(S) of every non-empty coalition (index S − 1). */
  static responses(predictions: tf.Tensor2D[], numModalities: number): tf.Tensor2D[] {
    const full = (1 << numModalities) - 1;
    if (predictions.length !== full) throw new Error(`AGM: ${numModalities} modalities need ${full} coalition predictions, got ${predictions.length}`);
    return tf.tidy(() => {
      const [b, c] = predictions[0].shape;
      const stacked = tf.reshape(tf.stack(predictions), [full, b * c]) as tf.Tensor2D;
      const weights = tf.tensor2d(Agm.shapleyCoefficients(numModalities));
      return tf.unstack(tf.reshape(tf.matMul(weights, stacked), [numModalities, b, c])) as tf.Tensor2D[];
    });
  }

  /** s_m = mean_i −log max(softmax(o_m,i)[y_i], 1e-8), from log-softmax so that small probabilities keep their precision. */
  static scores(labels: tf.Tensor2D, responses: tf.Tensor2D[]): tf.Tensor1D {
    return tf.tidy(() => tf.stack(responses.map((o) => tf.mean(tf.minimum(crossEntropyPerSample(labels, o), MAX_SCORE)))) as tf.Tensor1D);
  }

  /** k_m = exp(α·min(optimal_m − ratio_m, clip)) with ratio from the scores and optimal from the running means. */
  static coefficients(scores: tf.Tensor1D, runningScores: tf.Tensor1D, alpha: number, clip: number): tf.Tensor1D {
    return tf.tidy(() => tf.exp(tf.mul(tf.minimum(tf.sub(contrast(runningScores), contrast(scores)), clip), alpha)) as tf.Tensor1D);
  }

  private active(ctx: StepContext): boolean {
    return ctx.epoch >= this.firstEpoch && ctx.epoch <= this.lastEpoch;
  }

  loss(ctx: StepContext, out: ForwardOutputs): tf.Scalar {
    const m = ctx.view.numModalities;
    const full = (1 << m) - 1;
    const predictions: tf.Tensor2D[] = [];
    for (let coalition = 1; coalition <= full; coalition++) {
      if (coalition === full) {
        predictions.push(out.prediction);
        continue;
      }
      const inputs = ctx.batch.inputs.map((x, j) => ((coalition >> j) & 1 ? x : tf.zerosLike(x)));
      predictions.push(ctx.forward({ inputs, training: false }).prediction);
    }
    const responses = Agm.responses(predictions, m);
    const scores = Agm.scores(ctx.labels, responses);
    const k = this.active(ctx) ? Agm.coefficients(scores, tf.tensor1d(this.runningScores), this.alpha, this.clip) : tf.onesLike(scores);
    ctx.report('agm', ctx.keep(tf.concat([k, scores])));
    const modulated = responses.map((o, j) => scaleGradient(o, tf.reshape(tf.slice(k, [j], [1]), []) as tf.Scalar));
    return crossEntropy(ctx.labels, tf.addN(modulated));
  }

  afterStep(ctx: StepContext, reported: Record<string, Float32Array>): AgmMetrics {
    const m = ctx.view.numModalities;
    const values = reported.agm;
    this.count += 1;
    const t = this.count;
    const metrics: AgmMetrics = {};
    for (let j = 0; j < m; j++) {
      const score = values[m + j];
      this.runningScores[j] = (this.runningScores[j] * (t - 1)) / t + score / t;
      metrics[`k${j}`] = values[j];
      metrics[`score${j}`] = score;
    }
    return metrics;
  }

  state(): BalancerState {
    return { json: { runningScores: [...this.runningScores], steps: this.count } };
  }

  restore(state: BalancerState): void {
    const { runningScores, steps } = state.json as { runningScores?: unknown; steps?: unknown };
    // Array.from: a hole in the array is a missing score, not one to skip.
    if (!Array.isArray(runningScores) || !Array.from(runningScores).every((v) => typeof v === 'number' && Number.isFinite(v))) {
      throw new Error(`AGM state: runningScores must be an array of finite numbers, got ${JSON.stringify(runningScores)}`);
    }
    if (!(typeof steps === 'number' && Number.isInteger(steps) && steps >= 0)) throw new Error(`AGM state: steps must be an integer ≥ 0, got ${JSON.stringify(steps)}`);
    if (this.runningScores.length > 0 && runningScores.length !== this.runningScores.length) {
      throw new Error(`AGM state: the checkpoint has running scores for ${runningScores.length} modalities, the model has ${this.runningScores.length}`);
    }
    this.runningScores = [...(runningScores as number[])];
    this.count = steps;
  }
}
