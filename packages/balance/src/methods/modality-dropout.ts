import * as tf from '@tensorflow/tfjs-core';
import type { AttachContext, Balancer, BalancerState, Gradients, Requirements, StepContext } from '../balancer.js';
import { Mulberry32, mixSeed } from '../random.js';

/**
 * Modality dropout (generic; no single paper: the common "drop a whole modality during
 * training" regulariser, of which OPM and sample-level valuation are adaptive versions).
 *
 * Changes: the training inputs. Per sample and per modality, modality m's input is replaced by
 * zeros with probability p_m, independently. A sample whose every modality was drawn keeps one of
 * them, chosen uniformly at random (one extra draw, instead of redrawing the whole sample until
 * something survives): a sample with no input teaches nothing but the bias, and the uniform pick
 * keeps the modalities symmetric. So modality m is actually dropped with probability
 * p_m − (Π_j p_j)/M (two modalities at p = 0.3: 0.255), and the samples that lose a modality
 * train the others alone. The loss is the model's own loss on the masked inputs; prediction
 * uses all modalities.
 * Measures: nothing; reports the fraction of the batch's samples that lost each modality.
 * Defaults: p 0.3 for every modality, the middle of the usual 0.2–0.5: with two modalities about
 * half of the samples (0.49) stay complete, so the fused path trains on what it will predict
 * from, while each modality trains alone on a quarter of them (0.255). `rescale` (default off)
 * multiplies kept inputs by 1/P(kept), the exact keep probability 1 − p_m + (Π_j p_j)/M, so that
 * the expected input equals the unmasked one; unit dropout rescales because the next linear
 * layer averages its units, but a whole modality's raw input feeds a nonlinear encoder, whose
 * output an input scale does not preserve in expectation, and the scaled inputs would differ
 * from the unscaled ones the model sees at prediction time (batch-norm statistics included).
 * Randomness: a mulberry32 stream seeded by (seed, step), so a resumed run draws the same masks.
 * Cost: one element-wise product per input, no extra pass. Any fusion, any number of modalities
 * (input-level). Under Adam: nothing is scaled, so Adam changes nothing about the method.
 */
export interface ModalityDropoutOptions {
  /** Drop probability, one for all modalities or one per modality, each in [0, 1) (default 0.3). */
  p?: number | number[];
  /** Multiply kept inputs by 1/P(kept) (default false). */
  rescale?: boolean;
  /** Seed of the masks (default 0). */
  seed?: number;
}

/** dropped{m}: the fraction of this batch's samples whose modality m was zeroed. */
export type ModalityDropoutMetrics = Record<string, number>;

export class ModalityDropout implements Balancer<ModalityDropoutMetrics> {
  readonly name = 'modality-dropout';
  readonly requirements: Requirements = {};
  readonly rescale: boolean;
  readonly seed: number;
  private readonly p: number | number[];
  /** kept[i][m] for the current step's batch. */
  private kept?: boolean[][];

  constructor(options: ModalityDropoutOptions = {}) {
    this.p = options.p ?? 0.3;
    this.rescale = options.rescale ?? false;
    this.seed = options.seed ?? 0;
    const values = Array.isArray(this.p) ? this.p : [this.p];
    values.forEach((v, m) => {
      if (!(typeof v === 'number' && v >= 0 && v < 1)) {
        throw new Error(`modality dropout: p${Array.isArray(this.p) ? `[${m}]` : ''} must be in [0, 1) (the probability of zeroing a modality's input), got ${v}`);
      }
    });
    if (!Number.isInteger(this.seed)) throw new Error(`modality dropout: seed must be an integer, got ${options.seed}`);
  }

  attach({ view }: AttachContext): void {
    this.probabilitiesFor(view.numModalities);
  }

  private probabilitiesFor(numModalities: number): number[] {
    if (!Array.isArray(this.p)) return new Array(numModalities).fill(this.p);
    if (this.p.length !== numModalities) {
      throw new Error(`modality dropout: p lists ${this.p.length} probabilities, the model has ${numModalities} modalities (give one per modality, or one number for all)`);
    }
    return [...this.p];
  }

  /** P(modality m is dropped) after the keep-one rule: p_m − (Π_j p_j)/M. */
  dropRates(numModalities: number): number[] {
    const p = this.probabilitiesFor(numModalities);
    const all = p.reduce((a, b) => a * b, 1);
    return p.map((pm) => pm - all / numModalities);
  }

  /** kept[i][m] for a batch of `batchSize` samples at `step` (a pure function of seed and step). */
  masks(step: number, batchSize: number, numModalities: number): boolean[][] {
    const p = this.probabilitiesFor(numModalities);
    const random = new Mulberry32(mixSeed(this.seed, step));
    return Array.from({ length: batchSize }, () => {
      const kept = p.map((pm) => random.next() >= pm);
      if (!kept.some(Boolean)) kept[Math.min(numModalities - 1, Math.floor(random.next() * numModalities))] = true;
      return kept;
    });
  }

  beforeStep(ctx: StepContext): void {
    this.kept = this.masks(ctx.step, ctx.batch.labels.shape[0], ctx.view.numModalities);
  }

  gradients(ctx: StepContext): { value: tf.Scalar; grads: Gradients } {
    const kept = this.kept!;
    const rates = this.dropRates(ctx.view.numModalities);
    const inputs = ctx.batch.inputs.map((x, m) => {
      const scale = this.rescale ? 1 / (1 - rates[m]) : 1;
      const mask = tf.tensor1d(kept.map((row) => (row[m] ? scale : 0)));
      return tf.mul(x, tf.reshape(mask, [x.shape[0], ...new Array(x.rank - 1).fill(1)]));
    });
    return ctx.gradients(() => ctx.view.baseLoss(ctx.forward({ inputs }), ctx.labels));
  }

  afterStep(ctx: StepContext): ModalityDropoutMetrics {
    const kept = this.kept!;
    this.kept = undefined;
    const metrics: ModalityDropoutMetrics = {};
    for (let m = 0; m < ctx.view.numModalities; m++) metrics[`dropped${m}`] = kept.filter((row) => !row[m]).length / kept.length;
    return metrics;
  }

  state(): BalancerState {
    // The masks depend on (seed, step) only; the seed is kept to catch a restore into another stream.
    return { json: { seed: this.seed } };
  }

  restore(state: BalancerState): void {
    const { seed } = state.json as { seed?: unknown };
    if (seed !== this.seed) {
      throw new Error(`modality dropout: the checkpoint was made with seed ${JSON.stringify(seed)}, this balancer has seed ${this.seed}; create it with the checkpoint's seed to continue the same masks`);
    }
  }
}
