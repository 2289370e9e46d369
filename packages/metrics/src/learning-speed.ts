import * as tf from '@tensorflow/tfjs-core';

/** Effective updates μ of one step (Def. 5.1), per modality: branch θ_k and fusion θ'_k. */
export interface EffectiveUpdates {
  branch: number[];
  fusion: number[];
}

/**
 * Σ‖t‖² of each group of tensors, as one vector (one entry per group), so a caller reads all
 * groups with a single download. An empty group gives 0.
 *
 * Each group is flattened into one vector first: square and sum then run once per group rather
 * than once per weight tensor. With tens of small weights per group, per-kernel overhead (not
 * arithmetic) is what this bookkeeping costs on every step.
 */
export function groupSquaredNorms(groups: readonly (readonly tf.Tensor[])[]): tf.Tensor1D {
  return tf.tidy(() =>
    tf.stack(
      groups.map((g) => {
        if (g.length === 0) return tf.scalar(0);
        const flat = g.map((t) => tf.reshape(t, [-1]));
        return tf.sum(tf.square(flat.length === 1 ? flat[0] : tf.concat(flat)));
      }),
    ) as tf.Tensor1D,
  );
}

export interface LearningSpeedOptions {
  numModalities: number;
  /** Base of the logarithm in s(·|·). Default 10: the published α values come from the reference code's log10. */
  logBase?: number;
}

/** Saved state (e.g. from a checkpoint) that cannot be restored: truncated, from another version, or tampered with. */
export class SavedStateError extends Error {
  override readonly name = 'SavedStateError';
}

export interface LearningSpeedState {
  numModalities: number;
  logBase: number;
  branchTotals: number[];
  fusionTotals: number[];
  steps: number;
}

/**
 * Accumulates μ(θ_k) and μ(θ'_k) over steps (M_θ in Algorithm 1) and derives the conditional
 * learning speeds s_k = log(M_θ'_k / M_θ_k) — for two modalities s_0 = s(m1|m0), s_1 = s(m0|m1)
 * (Eq. 11–12) — and d_speed.
 */
export class LearningSpeedTracker {
  readonly numModalities: number;
  readonly logBase: number;
  private branchTotals: number[];
  private fusionTotals: number[];
  private steps = 0;

  constructor(options: LearningSpeedOptions) {
    if (!(Number.isInteger(options.numModalities) && options.numModalities >= 2)) {
      throw new Error(`learning speed needs at least two modalities, got ${options.numModalities}`);
    }
    const base = options.logBase ?? 10;
    if (!(base > 0 && base !== 1)) throw new Error(`logBase must be positive and not 1, got ${base}`);
    this.numModalities = options.numModalities;
    this.logBase = base;
    this.branchTotals = new Array(this.numModalities).fill(0);
    this.fusionTotals = new Array(this.numModalities).fill(0);
  }

  /** Number of steps accumulated so far. */
  get accumulatedSteps(): number {
    return this.steps;
  }

  accumulate(mu: EffectiveUpdates): void {
    if (mu.branch.length !== this.numModalities || mu.fusion.length !== this.numModalities) {
      throw new Error(`expected μ for ${this.numModalities} modalities, got ${mu.branch.length} branch and ${mu.fusion.length} fusion values`);
    }
    for (const v of [...mu.branch, ...mu.fusion]) {
      if (!Number.isFinite(v) || v < 0) {
        throw new Error(`effective update μ must be finite and non-negative, got ${v} (did the loss or a weight norm become NaN/0?)`);
      }
    }
    mu.branch.forEach((v, k) => (this.branchTotals[k] += v));
    mu.fusion.forEach((v, k) => (this.fusionTotals[k] += v));
    this.steps++;
  }

  /** s_k = log(M_θ'_k / M_θ_k) per modality; null before any step (or while a total is 0). */
  speeds(): (number | null)[] {
    const log = Math.log(this.logBase);
    return this.branchTotals.map((b, k) => {
      const f = this.fusionTotals[k];
      return b > 0 && f > 0 ? Math.log(f / b) / log : null;
    });
  }

  /**
   * Two modalities: d_speed = s(m1|m0) − s(m0|m1) = s_0 − s_1 (§5.1), positive when head 0
   * learns faster from m1 than head 1 from m0 — then m0 should be accelerated. More
   * modalities (§6.4): the spread between the two most different speeds, with the modality to
   * accelerate being the one with the largest s_k.
   */
  imbalance(): { dSpeed: number; accelerate: number } | null {
    const s = this.speeds();
    if (s.some((v) => v === null)) return null;
    const values = s as number[];
    if (this.numModalities === 2) {
      const d = values[0] - values[1];
      return { dSpeed: d, accelerate: d > 0 ? 0 : 1 };
    }
    let hi = 0;
    let lo = 0;
    values.forEach((v, k) => {
      if (v > values[hi]) hi = k;
      if (v < values[lo]) lo = k;
    });
    return { dSpeed: values[hi] - values[lo], accelerate: hi };
  }

  dSpeed(): number | null {
    return this.imbalance()?.dSpeed ?? null;
  }

  toJSON(): LearningSpeedState {
    return {
      numModalities: this.numModalities,
      logBase: this.logBase,
      branchTotals: [...this.branchTotals],
      fusionTotals: [...this.fusionTotals],
      steps: this.steps,
    };
  }

  /** Rebuilds a tracker from `toJSON()`; anything else (truncated, tampered, NaN totals) is a SavedStateError. */
  static fromJSON(state: LearningSpeedState): LearningSpeedTracker {
    const fail = (problem: string): never => {
      throw new SavedStateError(`learning speed state: ${problem}`);
    };
    if (state === null || typeof state !== 'object') fail(`expected an object, got ${JSON.stringify(state)}`);
    // toJSON writes the base: a state without one is truncated, not "the default".
    if (typeof state.logBase !== 'number') fail(`logBase must be a number, got ${JSON.stringify(state.logBase)}`);
    let t: LearningSpeedTracker;
    try {
      t = new LearningSpeedTracker({ numModalities: state.numModalities, logBase: state.logBase });
    } catch (error) {
      return fail((error as Error).message);
    }
    for (const key of ['branchTotals', 'fusionTotals'] as const) {
      const totals: unknown = state[key];
      if (!Array.isArray(totals) || totals.length !== t.numModalities || !Array.from(totals).every((v) => typeof v === 'number' && Number.isFinite(v) && v >= 0)) {
        fail(`${key} must be ${t.numModalities} finite numbers ≥ 0 (one per modality), got ${JSON.stringify(totals)}`);
      }
    }
    if (!(Number.isSafeInteger(state.steps) && state.steps >= 0)) fail(`steps must be an integer ≥ 0, got ${JSON.stringify(state.steps)}`);
    t.branchTotals = [...state.branchTotals];
    t.fusionTotals = [...state.fusionTotals];
    t.steps = state.steps;
    return t;
  }
}
