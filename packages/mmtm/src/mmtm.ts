import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import type { LayerArgs } from '@tensorflow/tfjs-layers/dist/engine/topology';
import type { Kwargs } from '@tensorflow/tfjs-layers/dist/types';
import { NORMAL_MODE, type FusionLayer, type FusionMode, type FusionRecording } from './fusion-mode.js';
import { squeezeAxes } from './squeeze.js';
import { torchLinearBiasInitializer, torchLinearKernelInitializer } from './torch-like-init.js';

/**
 * What a re-balancing step substitutes for the accelerated modality's gate.
 * - `excitation` (paper, Eq. 13–14): the mean of the pre-sigmoid excitations w_k, then gateScale·σ(w̄_k).
 * - `gate` (reference code): the mean of the gates gateScale·σ(w_k) themselves.
 */
export type RebalanceStatistic = 'excitation' | 'gate';

export interface MMTMArgs extends LayerArgs {
  /** Bottleneck ratio: the squeeze Dense has int(2·ΣC/ratio) units. Default 4. */
  ratio?: number;
  /** Gate = gateScale·σ(w). Default 2 (paper Eq. 2, MMTM paper); 1 reproduces the reference code. */
  gateScale?: number;
  /** Default 'excitation' (paper). */
  rebalanceStatistic?: RebalanceStatistic;
  /** Seed for the weight initialisers (tests, reproducible runs). */
  seed?: number;
}

/**
 * Multi-modal transfer module (Joze et al. 2020) as used by Wu et al. 2022: squeezes each
 * modality's channels-last feature map by global average pooling, maps the concatenation
 * through Dense → ReLU → one Dense per modality, and re-scales each map channel-wise by
 * gateScale·σ(w_k). Takes 2 or more inputs of any rank ≥ 2 with their own channel counts.
 *
 * Runtime state (`setFusionMode`, `setRecording`) switches between normal fusion, cut
 * cross-modal flow (Eq. 7) and re-balancing (Eq. 13–14) without rebuilding the model. The
 * statistics those modes need — per-modality squeeze means h̄_k and excitation means w̄_k with
 * their sample counts — are non-trainable weights, so they are saved and loaded with the model.
 */
export class MMTM extends tfl.layers.Layer implements FusionLayer {
  static className = 'MMTM';
  readonly isFusionLayer = true as const;

  readonly ratio: number;
  readonly gateScale: number;
  readonly rebalanceStatistic: RebalanceStatistic;
  private readonly seed?: number;

  private channels: number[] = [];
  private squeezeKernel!: tfl.LayerVariable;
  private squeezeBias!: tfl.LayerVariable;
  private exciteKernels: tfl.LayerVariable[] = [];
  private exciteBiases: tfl.LayerVariable[] = [];
  /** h̄_k and its sample count, recorded with `setRecording('squeeze')`. */
  private squeezeMeans: tfl.LayerVariable[] = [];
  private squeezeCount!: tfl.LayerVariable;
  /** w̄_k (or the mean gate, see RebalanceStatistic) and its count, recorded during regular training steps. */
  private excitationMeans: tfl.LayerVariable[] = [];
  private excitationCount!: tfl.LayerVariable;

  private mode: FusionMode = NORMAL_MODE;
  private recording: FusionRecording = 'none';
  constructor(args: MMTMArgs = {}) {
    super(args);
    this.ratio = args.ratio ?? 4;
    this.gateScale = args.gateScale ?? 2;
    this.rebalanceStatistic = args.rebalanceStatistic ?? 'excitation';
    this.seed = args.seed;
    if (!(this.ratio > 0)) throw new Error(`MMTM ${this.name}: ratio must be positive, got ${this.ratio}`);
    if (!(this.gateScale > 0)) throw new Error(`MMTM ${this.name}: gateScale must be positive, got ${this.gateScale}`);
    if (this.rebalanceStatistic !== 'excitation' && this.rebalanceStatistic !== 'gate') {
      throw new Error(`MMTM ${this.name}: rebalanceStatistic must be 'excitation' or 'gate', got ${String(this.rebalanceStatistic)}`);
    }
  }

  get numModalities(): number {
    return this.channels.length;
  }

  get hiddenUnits(): number {
    return Math.floor((2 * this.channels.reduce((a, b) => a + b, 0)) / this.ratio);
  }

  override build(inputShape: tfl.Shape | tfl.Shape[]): void {
    const shapes = inputShape as tfl.Shape[];
    if (!Array.isArray(shapes[0]) || shapes.length < 2) {
      throw new Error(`MMTM ${this.name} needs a list of at least two feature maps, got input shape ${JSON.stringify(inputShape)}`);
    }
    this.channels = shapes.map((shape, k) => {
      const c = shape[shape.length - 1];
      if (shape.length < 2 || c == null) {
        throw new Error(`MMTM ${this.name}: input ${k} must be channels-last with a known channel count, got shape ${JSON.stringify(shape)}`);
      }
      return c;
    });
    const total = this.channels.reduce((a, b) => a + b, 0);
    const hidden = this.hiddenUnits;
    if (hidden < 1) throw new Error(`MMTM ${this.name}: ratio ${this.ratio} leaves no hidden units for ${total} channels`);
    const seed = (offset: number) => (this.seed === undefined ? undefined : this.seed + offset);
    this.squeezeKernel = this.addWeight('squeeze_kernel', [total, hidden], 'float32', torchLinearKernelInitializer(seed(0)));
    this.squeezeBias = this.addWeight('squeeze_bias', [hidden], 'float32', torchLinearBiasInitializer(total, seed(1)));
    const zeros = tfl.initializers.zeros();
    this.channels.forEach((c, k) => {
      this.exciteKernels.push(this.addWeight(`excite${k}_kernel`, [hidden, c], 'float32', torchLinearKernelInitializer(seed(2 + 2 * k))));
      this.exciteBiases.push(this.addWeight(`excite${k}_bias`, [c], 'float32', torchLinearBiasInitializer(hidden, seed(3 + 2 * k))));
    });
    this.channels.forEach((c, k) => {
      this.squeezeMeans.push(this.addWeight(`squeeze_mean${k}`, [c], 'float32', zeros, undefined, false));
    });
    this.squeezeCount = this.addWeight('squeeze_count', [], 'float32', zeros, undefined, false);
    this.channels.forEach((c, k) => {
      this.excitationMeans.push(this.addWeight(`excitation_mean${k}`, [c], 'float32', zeros, undefined, false));
    });
    this.excitationCount = this.addWeight('excitation_count', [], 'float32', zeros, undefined, false);
    this.built = true;
  }

  override computeOutputShape(inputShape: tfl.Shape | tfl.Shape[]): tfl.Shape[] {
    return inputShape as tfl.Shape[];
  }

  /**
   * tfjs-layers' graph executor (engine/executor.js, 4.22) applies a multi-output layer once
   * per output, within one `execute` and with one shared kwargs object. The second application
   * returns the first one's outputs, so a pass computes and records once. Matching on that
   * kwargs object (and the same input tensors) makes a reuse impossible across passes: a new
   * `model.apply` or `layer.apply` brings a new one, after new weights, inside a gradient tape or
   * for a second recording pass. `model.predict` passes no kwargs, so each application there
   * computes: a recording pass through predict counts a batch K times, with the same means.
   */
  private currentPass?: { kwargs: Kwargs; inputs: tf.Tensor[]; outputs: tf.Tensor[] };

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Kwargs): tf.Tensor[] {
    const pass = this.currentPass;
    if (
      pass !== undefined &&
      kwargs !== undefined &&
      pass.kwargs === kwargs &&
      Array.isArray(inputs) &&
      pass.inputs.length === inputs.length &&
      pass.inputs.every((t, i) => t === inputs[i]) &&
      pass.outputs.every((t) => !t.isDisposed)
    ) {
      return pass.outputs;
    }
    const outputs = this.fuse(inputs);
    this.currentPass = kwargs === undefined ? undefined : { kwargs, inputs: [...(inputs as tf.Tensor[])], outputs };
    return outputs;
  }

  private fuse(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor[] {
    return tf.tidy(() => {
      const maps = inputs as tf.Tensor[];
      if (!Array.isArray(maps) || maps.length !== this.numModalities) {
        throw new Error(`MMTM ${this.name} was built for ${this.numModalities} inputs, got ${Array.isArray(maps) ? maps.length : 1}`);
      }
      const squeezes = maps.map((m) => (m.rank > 2 ? tf.mean(m, squeezeAxes(m.rank)) : m)) as tf.Tensor2D[];
      if (this.recording === 'squeeze') this.accumulate(this.squeezeMeans, this.squeezeCount, squeezes);

      const mode = this.mode;
      let excitations: tf.Tensor2D[];
      if (mode.kind === 'cut') {
        const means = this.recordedMeans(this.squeezeMeans, this.squeezeCount, 'squeeze', 'cut the cross-modal flow');
        excitations = this.channels.map((_, k) =>
          this.excite(squeezes.map((h, j) => (j === k ? h : tf.broadcastTo(means[j], h.shape) as tf.Tensor2D)), k),
        );
      } else {
        const hidden = this.hiddenActivation(squeezes);
        excitations = this.channels.map((_, k) => this.exciteFromHidden(hidden, k));
      }
      const gates = excitations.map((w) => tf.mul(tf.sigmoid(w), this.gateScale)) as tf.Tensor2D[];
      if (this.recording === 'excitation') {
        const statistic = this.rebalanceStatistic === 'gate' ? gates : excitations;
        this.accumulate(this.excitationMeans, this.excitationCount, statistic);
      }
      if (mode.kind === 'rebalance') {
        const k = mode.modality;
        if (!(Number.isInteger(k) && k >= 0 && k < this.numModalities)) {
          throw new Error(`MMTM ${this.name}: cannot re-balance modality ${k}; the layer fuses ${this.numModalities}`);
        }
        const mean = this.recordedMeans(this.excitationMeans, this.excitationCount, 'excitation', 're-balance')[k];
        const fixedGate = this.rebalanceStatistic === 'gate' ? mean : tf.mul(tf.sigmoid(mean), this.gateScale);
        // [1, C_k] broadcasts over the batch in the product below.
        gates[k] = fixedGate as tf.Tensor2D;
      }
      return maps.map((m, k) => tf.mul(m, tf.reshape(gates[k], [gates[k].shape[0], ...Array(m.rank - 2).fill(1), this.channels[k]])));
    });
  }

  private hiddenActivation(squeezes: tf.Tensor2D[]): tf.Tensor2D {
    const z = squeezes.length === 1 ? squeezes[0] : tf.concat(squeezes, 1);
    return tf.relu(tf.add(tf.matMul(z, this.squeezeKernel.read()), this.squeezeBias.read())) as tf.Tensor2D;
  }

  private exciteFromHidden(hidden: tf.Tensor2D, k: number): tf.Tensor2D {
    return tf.add(tf.matMul(hidden, this.exciteKernels[k].read()), this.exciteBiases[k].read()) as tf.Tensor2D;
  }

  private excite(squeezes: tf.Tensor2D[], k: number): tf.Tensor2D {
    return this.exciteFromHidden(this.hiddenActivation(squeezes), k);
  }

  /** Running mean over samples: mean ← mean + (Σ_batch x − B·mean)/(count + B); stays exact in float32 for long runs. */
  private accumulate(means: tfl.LayerVariable[], count: tfl.LayerVariable, values: tf.Tensor2D[]): void {
    const batch = values[0].shape[0];
    const previous = count.read();
    const updated = tf.add(previous, batch);
    values.forEach((v, k) => {
      const mean = means[k].read();
      const delta = tf.div(tf.sub(tf.sum(v, 0), tf.mul(mean, batch)), updated);
      means[k].write(tf.add(mean, delta));
    });
    count.write(updated);
  }

  /** Recorded means broadcast to [1, C_k]; refuses to run on statistics that were never recorded. */
  private recordedMeans(
    means: tfl.LayerVariable[],
    count: tfl.LayerVariable,
    what: 'squeeze' | 'excitation',
    purpose: string,
  ): tf.Tensor2D[] {
    if (count.read().dataSync()[0] === 0) {
      const how =
        what === 'squeeze'
          ? "run a recording pass over the training data first (setRecording('squeeze') or recordSqueezeMeans in @mm/metrics)"
          : 'take at least one regular training step with excitation recording first (the @mm/balance training step does this)';
      throw new Error(`MMTM ${this.name}: no ${what} statistics recorded, cannot ${purpose}; ${how}`);
    }
    return means.map((m, k) => tf.reshape(m.read(), [1, this.channels[k]]) as tf.Tensor2D);
  }

  setFusionMode(mode: FusionMode): void {
    this.mode = mode;
  }

  getFusionMode(): FusionMode {
    return this.mode;
  }

  setRecording(recording: FusionRecording): void {
    this.recording = recording;
  }

  getRecording(): FusionRecording {
    return this.recording;
  }

  resetSqueezeStatistics(): void {
    if (!this.built) return;
    // Inside tidy: a variable write keeps the data, the temporary tensor must still be freed.
    tf.tidy(() => {
      for (const m of this.squeezeMeans) m.write(tf.zerosLike(m.read()));
      this.squeezeCount.write(tf.scalar(0));
    });
  }

  /** Recorded sample counts (for logs and tests). */
  statisticsCounts(): { squeeze: number; excitation: number } {
    return {
      squeeze: this.built ? this.squeezeCount.read().dataSync()[0] : 0,
      excitation: this.built ? this.excitationCount.read().dataSync()[0] : 0,
    };
  }

  fusionWeightNames(modality: number): string[] {
    if (!this.built) throw new Error(`MMTM ${this.name} is not built yet; apply it to inputs first`);
    if (!(modality >= 0 && modality < this.numModalities)) {
      throw new Error(`MMTM ${this.name} fuses ${this.numModalities} modalities; there is no modality ${modality}`);
    }
    // The shared squeeze Dense lies on the path to every head (θ'_k for all k, paper footnote 2).
    return [this.squeezeKernel, this.squeezeBias, this.exciteKernels[modality], this.exciteBiases[modality]].map((w) => w.name);
  }

  override getConfig(): tf.serialization.ConfigDict {
    return {
      ...super.getConfig(),
      ratio: this.ratio,
      gateScale: this.gateScale,
      rebalanceStatistic: this.rebalanceStatistic,
    };
  }
}

tf.serialization.registerClass(MMTM);
