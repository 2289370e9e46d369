import type * as tf from '@tensorflow/tfjs-core';
import type { FusionMode, FusionRecording } from '@mm/mmtm';
import type { BatchSource, LabeledBatch } from '@mm/metrics';
import type { Capability, ForwardOutputs, ModelView } from './fusion/model-view.js';

/** Gradients keyed by variable name, one entry for every trainable variable. */
export type Gradients = tf.NamedTensorMap;

/** What a balancer measured in one step: numbers (or null while undefined) the trainer returns. */
export type StepMetrics = Record<string, number | null>;

/** Where a method takes per-modality logits from, in order of preference. */
export type ModalityLogitSource =
  /** The model's own per-modality heads (mmtm, shared-head, heads). */
  | 'heads'
  /** Slices of a late model's linear head: z_m = h_m·W_m + b/M. */
  | 'slices'
  /** Auxiliary linear heads the trainer adds on the features h_m (trained with the model). */
  | 'aux';

/** What a method needs from the model. */
export interface Requirements {
  /** Every one of these capabilities. */
  capabilities?: Capability[];
  /** Per-modality logits from the first available source in this list. */
  modalityLogits?: ModalityLogitSource[];
  /** Number of modalities the method is defined for (its paper's), with the reason when limited. */
  modalities?: { min?: number; max?: number; why?: string };
}

/** What the trainer hands a balancer once, when it is attached. */
export interface AttachContext {
  readonly view: ModelView;
  /** The logit source the trainer settled on for this method (when it asked for one). */
  readonly logitSource?: ModalityLogitSource;
  /** Reports something the user should know but that does not stop training. */
  warn(message: string): void;
}

/** The trainer's services within one step. Tensors created here are freed when the step ends. */
export interface StepContext {
  readonly view: ModelView;
  /** 0-based index of this step over the whole run. */
  readonly step: number;
  /** Current epoch and position in it (as told by `trainer.startEpoch`), and the epoch's length when known. */
  readonly epoch: number;
  readonly stepInEpoch: number;
  readonly stepsPerEpoch: number | undefined;
  readonly batch: LabeledBatch;
  /** One-hot float32 labels [B, C]. */
  readonly labels: tf.Tensor2D;
  /** Every variable the step trains (the model's and the trainer's auxiliary heads), in a fixed order. */
  readonly variables: readonly tf.Variable[];
  readonly optimizer: tf.Optimizer;
  /** A forward pass (default: the batch's inputs, training mode). */
  forward(options?: { inputs?: tf.Tensor[]; training?: boolean }): ForwardOutputs;
  /** z_m from the source the trainer chose for this method. */
  modalityLogits(out: ForwardOutputs): tf.Tensor2D[];
  /**
   * ∂loss/∂v for every trainable variable (zeros where the loss does not reach v). Tensors the
   * loss function wants to use afterwards must go through `keep`.
   */
  gradients(loss: () => tf.Scalar): { value: tf.Scalar; grads: Gradients };
  /** Keeps a tensor made inside `gradients`' loss function alive until the step ends. */
  keep<T extends tf.Tensor>(tensor: T): T;
  /**
   * Applies gradients with the optimizer after checking that loss and gradients are finite.
   * A variable missing from the map is not updated this time (its momentum neither, as PyTorch
   * skips a parameter whose .grad is None); `gradients` zero-fills instead, so unreached
   * variables keep their momentum, as PyTorch with zeroed .grad tensors.
   * Returns false when the step was skipped (policy 'skip'); throws TrainingDivergedError
   * (policy 'throw'). Nothing has changed in either case.
   */
  applyGradients(grads: Gradients, loss: tf.Scalar): boolean;
  /** Queues a tensor to be read back after the step; `afterStep` receives its values by name. */
  report(name: string, tensor: tf.Tensor): void;
  /** Sets a mode on every fusion layer for this step (restored to normal when the step ends). */
  setFusionMode(mode: FusionMode, recording?: FusionRecording): void;
}

/** Data a method may use at the start of an epoch (prototypes, held-out estimates). */
export interface EpochContext {
  readonly view: ModelView;
  readonly epoch: number;
  readonly stepsPerEpoch: number | undefined;
  /** Training batches (a fresh pass each call), when the caller provided them. */
  readonly train?: () => BatchSource;
  /** Held-out batches, when the caller provided them. */
  readonly validation?: () => BatchSource;
  readonly optimizer: tf.Optimizer;
  /** Every variable the trainer trains, in its fixed order. */
  readonly variables: readonly tf.Variable[];
  /** z_m from the source the trainer chose for this method. */
  modalityLogits(out: ForwardOutputs): tf.Tensor2D[];
  /** A forward pass over a batch's inputs. */
  forward(inputs: tf.Tensor[], training: boolean): ForwardOutputs;
}

/** A balancer's state: JSON plus named tensors (copied; the trainer saves and disposes them). */
export interface BalancerState {
  json: Record<string, unknown>;
  tensors?: Record<string, tf.Tensor>;
}

/**
 * A multi-modal balancing method. The trainer runs one step as:
 *   beforeStep → [gradients (custom) | forward → loss → backward] → transformGradients →
 *   applyGradients → afterApply → read back reports → afterStep,
 * or the method's own `step` when it needs several updates per batch. Hooks are optional;
 * with none, the step is plain training on the model's own loss.
 */
export interface Balancer<M extends StepMetrics = StepMetrics> {
  /** The method's name as in its paper (used in messages and saved state). */
  readonly name: string;
  readonly requirements: Requirements;
  /** Sets the method up for this model (sizes, auxiliary state); called once by the trainer. */
  attach?(context: AttachContext): void;
  /** Host-side decisions before the step (e.g. which fusion mode). */
  beforeStep?(ctx: StepContext): void;
  /** The training loss from a forward pass (default: the model's own loss). Runs inside the gradient tape. */
  loss?(ctx: StepContext, out: ForwardOutputs): tf.Scalar;
  /** Replaces forward + loss + backward when a method needs several backward passes. */
  gradients?(ctx: StepContext): { value: tf.Scalar; grads: Gradients };
  /** Changes the gradients before they are applied. */
  transformGradients?(ctx: StepContext, grads: Gradients): Gradients;
  /** Runs after the update, inside the step's scope (e.g. report weight norms). */
  afterApply?(ctx: StepContext): void;
  /** Replaces the whole step (methods with several updates per batch). Returns the loss to report. */
  step?(ctx: StepContext): tf.Scalar | undefined;
  /** Host-side bookkeeping after an applied step; returns the step's metrics. */
  afterStep?(ctx: StepContext, reported: Record<string, Float32Array>): M;
  /** Logits of the prediction (default: the model's prediction). */
  predict?(view: ModelView, out: ForwardOutputs, modalityLogits: () => tf.Tensor2D[]): tf.Tensor2D;
  /** Work at the start of an epoch that needs data (prototypes, held-out estimates). */
  startEpoch?(ctx: EpochContext): Promise<void>;
  /** Everything needed to continue identically after a restart. */
  state(): BalancerState;
  restore(state: BalancerState): void;
  /** Frees tensors the method holds. */
  dispose?(): void;
}
