import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import type { AttachContext, Balancer, BalancerState, Gradients, Requirements, StepContext } from '../balancer.js';

/**
 * UMT, Uni-Modal Teacher (Du et al., "On Uni-Modal Feature Learning in Supervised Multi-Modal
 * Learning", ICML 2023).
 *
 * Changes: the loss. Each modality's feature h_m (the head's input) is pulled towards the feature
 * a pre-trained uni-modal model of that modality gives for the same input:
 *   L = L_model + λ·Σ_m MSE(h_m^teacher, h_m),
 * with L_model the model's own loss (CE of a late model's output, Σ_k CE over the heads of the
 * other kinds) and MSE the mean over samples and feature units. The teachers are functions you
 * give, one per modality in input order, from that modality's input to features of the same
 * width as h_m (`teacherFromModel` makes one from a tfjs model and its feature layer). They run
 * before the gradient tape, so their features are constants: no gradient and no update reaches
 * them (their own training mode is theirs to choose; `teacherFromModel` uses inference mode).
 * Defaults: λ 10 (BalanceBenchmark's `scaling`; the paper's value is not checked here).
 * Cost per step: one forward pass of each teacher, no extra backward pass.
 * Under Adam: the method adds a loss term, not a gradient scale, so Adam does not undo it.
 * Any number of modalities. Needs the per-modality features (`features`) and, per modality, a
 * teacher trained beforehand on that modality alone.
 */
export type FeatureTeacher = (input: tf.Tensor) => tf.Tensor2D;

export interface UmtOptions {
  /** One teacher per modality, in the model's input order. */
  teachers?: FeatureTeacher[];
  /** Weight λ of the distillation term (default 10). */
  lambda?: number;
}

export interface UmtMetrics {
  [key: string]: number | null;
}

/**
 * A teacher from a trained single-input tfjs model: the output of its layer `featureLayer`
 * (one vector per sample), computed in inference mode. The model stays yours (not disposed).
 */
export function teacherFromModel(model: tfl.LayersModel, featureLayer: string): FeatureTeacher {
  if (model.inputs.length !== 1) throw new Error(`a UMT teacher is a uni-modal model with one input; '${model.name}' has ${model.inputs.length}`);
  let layer: tfl.layers.Layer;
  try {
    layer = model.getLayer(featureLayer);
  } catch {
    throw new Error(`UMT teacher '${model.name}' has no layer named '${featureLayer}' (its layers: ${model.layers.map((l) => l.name).join(', ')})`);
  }
  const output = layer.output as tfl.SymbolicTensor;
  if (Array.isArray(output) || output.shape.length !== 2) {
    throw new Error(`UMT teacher '${model.name}': layer '${featureLayer}' must give one feature vector per sample [batch, d]; its output is ${Array.isArray(output) ? `${output.length} tensors` : JSON.stringify(output.shape)}`);
  }
  const features = tfl.model({ inputs: model.inputs, outputs: output, name: `${model.name}_umt_teacher` });
  return (input) => features.apply(input, { training: false }) as tf.Tensor2D;
}

export class Umt implements Balancer<UmtMetrics> {
  readonly name = 'umt';
  readonly requirements: Requirements = { capabilities: ['features'] };
  readonly lambda: number;
  private readonly teachers?: FeatureTeacher[];

  constructor(options: UmtOptions = {}) {
    this.teachers = options.teachers;
    this.lambda = options.lambda ?? 10;
    if (!(this.lambda >= 0)) throw new Error(`UMT: lambda must be ≥ 0, got ${this.lambda}`);
    if (this.teachers && this.teachers.some((t) => typeof t !== 'function')) throw new Error('UMT: every teacher must be a function from a modality input to its features (see teacherFromModel)');
  }

  attach({ view }: AttachContext): void {
    if (!this.teachers) {
      throw new Error(`UMT distils features from pre-trained uni-modal teachers: create it with new Umt({ teachers }), one per modality (${view.numModalities} here), e.g. teacherFromModel(model, featureLayer)`);
    }
    if (this.teachers.length !== view.numModalities) {
      throw new Error(`UMT: the model has ${view.numModalities} modalities, ${this.teachers.length} teachers were given (one per modality, in input order)`);
    }
  }

  /** Teacher features for this batch, checked against the student's feature widths. */
  private teacherFeatures(ctx: StepContext): tf.Tensor2D[] {
    const sizes = ctx.view.featureSizes!;
    return this.teachers!.map((teacher, m) => {
      const input = ctx.batch.inputs[m];
      const t = teacher(input);
      if (t.rank !== 2 || t.shape[0] !== input.shape[0] || t.shape[1] !== sizes[m]) {
        throw new Error(`UMT: teacher ${m} returned features of shape [${t.shape}] for a batch of ${input.shape[0]}; the model's feature h_${m} is [${input.shape[0]},${sizes[m]}]: the teacher must give one vector per sample of the same width`);
      }
      return t;
    });
  }

  gradients(ctx: StepContext): { value: tf.Scalar; grads: Gradients } {
    // Computed before the tape opens: the targets are constants.
    const targets = this.teacherFeatures(ctx);
    let distances: tf.Tensor1D | undefined;
    const result = ctx.gradients(() => {
      const out = ctx.forward();
      distances = ctx.keep(tf.stack(out.features!.map((h, m) => tf.mean(tf.square(tf.sub(targets[m], h))))) as tf.Tensor1D);
      return tf.add(ctx.view.baseLoss(out, ctx.labels), tf.mul(tf.sum(distances), this.lambda)) as tf.Scalar;
    });
    ctx.report('distances', distances!);
    return result;
  }

  /** mse0, mse1, …: each modality's MSE(h_m^teacher, h_m) before the update. */
  afterStep(_ctx: StepContext, reported: Record<string, Float32Array>): UmtMetrics {
    return Object.fromEntries(Array.from(reported.distances, (d, m) => [`mse${m}`, d]));
  }

  state(): BalancerState {
    // The teachers are fixed and yours; λ is an option: nothing changes during training.
    return { json: {} };
  }

  restore(): void {}
}
