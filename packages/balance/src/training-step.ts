import * as tf from '@tensorflow/tfjs-core';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { fusionLayersOf, NORMAL_MODE, setFusionMode, setFusionRecording, type FusionLayer } from '@mm/mmtm';
import { groupSquaredNorms, LearningSpeedTracker, type LabeledBatch, type LearningSpeedState } from '@mm/metrics';
import { sumOfCrossEntropies, type LossStrategy } from './losses.js';
import { resolveParameterGroups, type ParameterGroupDeclaration, type ParameterGroups } from './parameter-groups.js';
import { schedulerFromJSON, VanillaScheduler, type Scheduler, type SchedulerState, type StepKind } from './schedulers.js';

export interface TrainingStepOptions {
  /** A model with K inputs and K heads (outputs), fused by MMTM or other FusionLayers. */
  model: LayersModel;
  optimizer: tf.Optimizer;
  /** Default: vanilla. */
  scheduler?: Scheduler;
  /** Default: Σ_k CE(y, ŷ_k). */
  loss?: LossStrategy;
  /** Parameter groups, or a declaration to resolve them; default derived from the `m{k}_` naming. */
  groups?: ParameterGroups | ParameterGroupDeclaration;
  /**
   * Conditional learning speed bookkeeping. `false` disables it (uni-modal models, or a
   * vanilla run that does not need d_speed); the guided scheduler requires it.
   */
  learningSpeed?:
    | false
    | {
        /** Default 10 (reference code; the paper writes log). */
        logBase?: number;
        /** ‖θ‖² after the update (paper, Def. 5.1: θ_(i)) or before it (reference code). Default 'after'. */
        weightNorm?: 'after' | 'before';
      };
}

export interface StepResult {
  /** 0-based index of the step just taken. */
  step: number;
  kind: StepKind;
  loss: number;
  /** d_speed after this step (null until every group has moved, or when speed is off). */
  dSpeed: number | null;
  /** s_k after this step. */
  speeds: (number | null)[];
}

export interface TrainingStepState {
  step: number;
  scheduler: SchedulerState;
  speed: LearningSpeedState | null;
}

function isResolved(groups: ParameterGroups | ParameterGroupDeclaration): groups is ParameterGroups {
  return Array.isArray((groups as ParameterGroups).branch) && Array.isArray((groups as ParameterGroups).fusion);
}

function oneHotLabels(labels: tf.Tensor, classes: number): tf.Tensor2D {
  if (labels.rank === 2) return tf.cast(labels, 'float32') as tf.Tensor2D;
  if (labels.rank !== 1) throw new Error(`labels must be class indices [B] or one-hot [B, classes], got shape [${labels.shape}]`);
  return tf.cast(tf.oneHot(tf.cast(labels, 'int32') as tf.Tensor1D, classes), 'float32') as tf.Tensor2D;
}

/**
 * One balanced training step for a user's tfjs model: asks the scheduler for the step kind,
 * sets every fusion layer's mode (recording the excitations on regular steps), computes
 * Σ_k CE, the gradients, μ per parameter group (regular steps only, as Algorithm 1), applies
 * the optimizer, and always restores normal mode — so evaluation never runs re-balanced.
 */
export class BalancedTrainer {
  readonly model: LayersModel;
  readonly optimizer: tf.Optimizer;
  readonly loss: LossStrategy;
  readonly groups: ParameterGroups | undefined;
  readonly fusionLayers: FusionLayer[];
  private scheduler_: Scheduler;
  private speed_: LearningSpeedTracker | undefined;
  private readonly weightNorm: 'after' | 'before';
  private readonly variables: tf.Variable[];
  private stepIndex = 0;

  constructor(options: TrainingStepOptions) {
    this.model = options.model;
    this.optimizer = options.optimizer;
    this.loss = options.loss ?? sumOfCrossEntropies;
    this.scheduler_ = options.scheduler ?? new VanillaScheduler();
    this.fusionLayers = fusionLayersOf(this.model);
    this.variables = this.model.trainableWeights.map((w) => w.read() as tf.Variable);
    const speedOptions = options.learningSpeed;
    this.weightNorm = (speedOptions && speedOptions.weightNorm) || 'after';
    if (speedOptions !== false) {
      this.groups = options.groups && isResolved(options.groups) ? options.groups : resolveParameterGroups(this.model, options.groups);
      this.speed_ = new LearningSpeedTracker({ numModalities: this.groups.numModalities, logBase: speedOptions?.logBase });
    }
    if (this.scheduler_.name !== 'vanilla' && this.fusionLayers.length === 0) {
      throw new Error(`the ${this.scheduler_.name} scheduler re-balances fusion layers, but the model has none (MMTM or another FusionLayer)`);
    }
  }

  get scheduler(): Scheduler {
    return this.scheduler_;
  }

  get speed(): LearningSpeedTracker | undefined {
    return this.speed_;
  }

  get steps(): number {
    return this.stepIndex;
  }

  step(batch: LabeledBatch): StepResult {
    const kind = this.scheduler_.next();
    const regular = kind.kind === 'regular';
    const measure = regular && this.speed_ !== undefined;
    setFusionMode(this.fusionLayers, regular ? NORMAL_MODE : kind);
    setFusionRecording(this.fusionLayers, regular ? 'excitation' : 'none');
    let values: Float32Array;
    try {
      values = tf.tidy(() => {
        const lossFn = () => {
          const out = this.model.apply(batch.inputs.length === 1 ? batch.inputs[0] : batch.inputs, { training: true });
          const heads = (Array.isArray(out) ? out : [out]) as tf.Tensor2D[];
          return this.loss.compute(heads, oneHotLabels(batch.labels, heads[0].shape[1]));
        };
        const { value, grads: connected } = tf.variableGrads(lossFn, this.variables);
        // tfjs optimizers keep their slots by the position of each gradient in the map, so the
        // map must list every variable in the same order at every step. A re-balancing step
        // cuts some paths (the accelerated modality's excite Dense): give those zero gradients,
        // as PyTorch's SGD sees zeroed .grad tensors.
        const grads: tf.NamedTensorMap = {};
        for (const v of this.variables) grads[v.name] = connected[v.name] ?? tf.zerosLike(v);
        const outputs: tf.Tensor[] = [tf.reshape(value, [1])];
        let gradNorms: tf.Tensor1D | undefined;
        let weightNorms: tf.Tensor1D | undefined;
        if (measure) {
          const g = this.groups!;
          const pick = (vars: { read(): tf.Tensor }[]) => vars.map((v) => grads[(v.read() as tf.Variable).name]).filter((t) => t !== undefined);
          gradNorms = groupSquaredNorms([...g.branch.map(pick), ...g.fusion.map(pick)]);
          if (this.weightNorm === 'before') weightNorms = this.weightSquaredNorms();
        }
        this.optimizer.applyGradients(grads);
        if (measure) {
          weightNorms ??= this.weightSquaredNorms();
          outputs.push(gradNorms!, weightNorms);
        }
        return tf.concat(outputs).dataSync() as Float32Array;
      });
    } finally {
      setFusionMode(this.fusionLayers, NORMAL_MODE);
      setFusionRecording(this.fusionLayers, 'none');
    }
    if (measure) {
      const k = this.groups!.numModalities;
      const grad = values.subarray(1, 1 + 2 * k);
      const weight = values.subarray(1 + 2 * k, 1 + 4 * k);
      const mu = Array.from(grad, (g, i) => g / weight[i]);
      this.speed_!.accumulate({ branch: mu.slice(0, k), fusion: mu.slice(k) });
    }
    this.scheduler_.afterStep(kind, this.speed_);
    const loss = values[0];
    if (!Number.isFinite(loss)) {
      throw new Error(`training diverged at step ${this.stepIndex}: loss is ${loss}. Lower the learning rate or check the inputs.`);
    }
    return {
      step: this.stepIndex++,
      kind,
      loss,
      dSpeed: this.speed_?.dSpeed() ?? null,
      speeds: this.speed_?.speeds() ?? [],
    };
  }

  private weightSquaredNorms(): tf.Tensor1D {
    const g = this.groups!;
    const read = (vars: { read(): tf.Tensor }[]) => vars.map((v) => v.read());
    return groupSquaredNorms([...g.branch.map(read), ...g.fusion.map(read)]);
  }

  /** Scheduler, accumulators and step count as JSON (model and optimizer weights are saved separately). */
  state(): TrainingStepState {
    return { step: this.stepIndex, scheduler: this.scheduler_.toJSON(), speed: this.speed_?.toJSON() ?? null };
  }

  restore(state: TrainingStepState): void {
    this.stepIndex = state.step;
    this.scheduler_ = schedulerFromJSON(state.scheduler);
    if (state.speed && this.speed_) this.speed_ = LearningSpeedTracker.fromJSON(state.speed);
    else if (Boolean(state.speed) !== Boolean(this.speed_)) {
      throw new Error('saved training state and this trainer disagree on learning-speed tracking; create the trainer with the same options');
    }
  }
}
