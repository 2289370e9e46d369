import * as tf from '@tensorflow/tfjs-core';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { NORMAL_MODE, setFusionMode, setFusionRecording, type FusionMode, type FusionRecording } from '@mm/mmtm';
import { iterateBatches, type BatchSource, type LabeledBatch } from '@mm/metrics';
import { AuxiliaryHeads } from './fusion/auxiliary-heads.js';
import { ModelView, type ForwardOutputs, type FusionDeclaration } from './fusion/model-view.js';
import type { Balancer, BalancerState, EpochContext, Gradients, ModalityLogitSource, StepContext, StepMetrics } from './balancer.js';
import { checkRequirements } from './requirements.js';
import { CheckpointError, TrainingDivergedError } from './errors.js';
import { checkCheckpoint, checkFinite, checkFits } from './checkpoint-validation.js';
import { Vanilla } from './methods/vanilla.js';
import { oneHotLabels } from './losses.js';
import { disposeOptimizer } from './optimizer-copy.js';

export interface BalancedTrainerOptions<M extends StepMetrics> {
  /** Your tfjs model: one input per modality; fusion by MMTM, late (concat/sum), a shared head, or one head per modality. */
  model: LayersModel;
  /** Your optimizer. The trainer owns it from here on: `trainer.dispose()` disposes it. */
  optimizer: tf.Optimizer;
  /** The balancing method (default: plain training on the model's own loss). */
  balancer?: Balancer<M>;
  /** How the model joins its modalities (default: detected from its graph). */
  fusion?: FusionDeclaration;
  /**
   * A step whose loss or gradients are NaN or infinite changes nothing; then either
   * `'throw'` a TrainingDivergedError (default) or `'skip'` the batch and count it.
   */
  nonFinite?: 'throw' | 'skip';
  /** Seed of the auxiliary heads' initialisation (methods that add them). Default 0. */
  seed?: number;
  /** Where warnings go (default console.warn). */
  warn?: (message: string) => void;
}

export interface StepResult<M extends StepMetrics = StepMetrics> {
  /** 0-based index of this step. */
  step: number;
  loss: number;
  /** False when the step was skipped for a non-finite loss or gradient (policy 'skip'). */
  applied: boolean;
  /** What the balancer measured and decided (e.g. dSpeed, rebalance, coefficients). */
  metrics: M;
}

export interface EpochOptions {
  /** 0-based epoch index (default: the next one). */
  epoch?: number;
  /** Steps in this epoch, when known (some methods schedule by position in the epoch). */
  stepsPerEpoch?: number;
  /** Training batches, for methods that look at the data at epoch start (PMR, Gradient Blending). */
  train?: () => BatchSource;
  /** Held-out batches, for methods that estimate on them (Gradient Blending). */
  validation?: () => BatchSource;
}

export interface Evaluation {
  /** Accuracy of the prediction. */
  accuracy: number;
  /** Accuracy of each modality's logits (heads, head slices or auxiliary heads); null when the model has none. */
  modalityAccuracy: number[] | null;
  /** Mean cross-entropy of the prediction. */
  loss: number;
  samples: number;
}

/** A stored tensor: shape, dtype and values in row-major order. */
export interface StoredTensor {
  shape: number[];
  dtype: 'float32' | 'int32';
  data: Float32Array | Int32Array;
}

/** Everything a run needs to continue exactly: model weights (statistics included), optimizer slots, balancer and counters. */
export interface TrainerCheckpoint {
  format: typeof CHECKPOINT_FORMAT;
  json: {
    step: number;
    epoch: number;
    stepInEpoch: number;
    /** The epoch length last given to startEpoch (null when never given). */
    stepsPerEpoch: number | null;
    skippedSteps: number;
    balancer: { name: string; state: Record<string, unknown> };
    optimizer: { className: string; iterations: number; slots: number };
    /** Host-side state of layers that keep some (`hostState()`), by layer name: e.g. a seeded dropout's mask stream. */
    layers?: Record<string, unknown>;
  };
  tensors: Record<string, StoredTensor>;
}

/** A layer whose state lives outside its weights; the trainer's checkpoint carries it. */
interface HostStateLayer {
  name: string;
  hostState(): unknown;
  setHostState(state: unknown): void;
}

function hostStateLayers(model: LayersModel): HostStateLayer[] {
  return model.layers.filter((l): l is typeof l & HostStateLayer => typeof (l as Partial<HostStateLayer>).hostState === 'function' && typeof (l as Partial<HostStateLayer>).setHostState === 'function');
}

export const CHECKPOINT_FORMAT = 'mm-balance-trainer/1';

function store(tensor: tf.Tensor): StoredTensor {
  const dtype = tensor.dtype === 'int32' ? 'int32' : 'float32';
  const values = tensor.dataSync();
  return { shape: [...tensor.shape], dtype, data: dtype === 'int32' ? Int32Array.from(values) : Float32Array.from(values) };
}

/** A stored tensor (already checked) as a tfjs tensor. */
function load(stored: StoredTensor): tf.Tensor {
  return tf.tensor(stored.data, stored.shape, stored.dtype);
}

/**
 * Trains a user's multi-modal tfjs model one batch at a time with a balancing method. The
 * trainer knows no method by name: it owns the model view (fusion kind, features, per-modality
 * logits), the optimizer and the step's bookkeeping — one gradient map in a fixed variable order,
 * a finiteness check before any update, state restored when a step diverges, fusion modes reset
 * after every step, one read-back per step — and calls the balancer's hooks in between.
 */
export class BalancedTrainer<M extends StepMetrics = StepMetrics> {
  readonly model: LayersModel;
  readonly optimizer: tf.Optimizer;
  readonly balancer: Balancer<M>;
  readonly view: ModelView;
  /** The source of per-modality logits chosen for this balancer, if it asked for one. */
  readonly logitSource?: ModalityLogitSource;
  private readonly aux?: AuxiliaryHeads;
  private readonly variables: tf.Variable[];
  private readonly nonFinite: 'throw' | 'skip';
  private stepIndex = 0;
  private epochIndex = 0;
  private stepInEpoch = 0;
  private stepsPerEpoch: number | undefined;
  private skipped = 0;
  private disposed = false;

  constructor(options: BalancedTrainerOptions<M>) {
    this.model = options.model;
    this.optimizer = options.optimizer;
    this.balancer = options.balancer ?? (new Vanilla() as unknown as Balancer<M>);
    this.nonFinite = options.nonFinite ?? 'throw';
    if (this.nonFinite !== 'throw' && this.nonFinite !== 'skip') throw new Error(`nonFinite must be 'throw' or 'skip', got ${String(this.nonFinite)}`);
    this.view = new ModelView(this.model, options.fusion);
    const warn = options.warn ?? ((message: string) => console.warn(`[@mm/balance] ${message}`));
    if (this.view.groups?.unassigned.length) {
      warn(`${this.view.groups.unassigned.length} trainable weight(s) are in no parameter group and do not count in the learning speed: ${this.view.groups.unassigned.join(', ')} (declare them, or set groups.strict to make this an error)`);
    }
    this.logitSource = checkRequirements(this.balancer, this.view);
    if (this.logitSource === 'aux') this.aux = new AuxiliaryHeads(this.view, options.seed ?? 0);
    this.variables = [...this.model.trainableWeights.map((w) => w.read() as tf.Variable), ...(this.aux?.variables ?? [])];
    this.balancer.attach?.({ view: this.view, logitSource: this.logitSource, warn });
  }

  get steps(): number {
    return this.stepIndex;
  }

  /** The auxiliary heads the trainer added for its method (per modality: kernel [d_m, C], bias [C]); empty when none. */
  get auxiliaryHeads(): { kernel: tf.Variable; bias: tf.Variable }[] {
    const v = this.aux?.variables ?? [];
    return Array.from({ length: v.length / 2 }, (_, m) => ({ kernel: v[2 * m], bias: v[2 * m + 1] }));
  }

  /** Steps skipped for a non-finite loss or gradient (policy 'skip'). */
  get skippedSteps(): number {
    return this.skipped;
  }

  get epoch(): number {
    return this.epochIndex;
  }

  /**
   * Marks the start of an epoch. Methods that look at data between epochs (PMR's prototypes,
   * Gradient Blending's weights) do that work here, on the batches given.
   */
  async startEpoch(options: EpochOptions = {}): Promise<void> {
    this.epochIndex = options.epoch ?? (this.stepIndex === 0 && this.stepInEpoch === 0 ? 0 : this.epochIndex + 1);
    this.stepInEpoch = 0;
    this.stepsPerEpoch = options.stepsPerEpoch ?? this.stepsPerEpoch;
    if (!this.balancer.startEpoch) return;
    const ctx: EpochContext = {
      view: this.view,
      epoch: this.epochIndex,
      stepsPerEpoch: this.stepsPerEpoch,
      train: options.train,
      validation: options.validation,
      optimizer: this.optimizer,
      variables: this.variables,
      modalityLogits: (out) => this.modalityLogits(out),
      forward: (inputs, training) => this.view.forward(inputs, training),
    };
    await this.balancer.startEpoch(ctx);
  }

  /** One training step on a batch (the caller keeps ownership of the batch's tensors). */
  step(batch: LabeledBatch): StepResult<M> {
    this.checkUsable();
    this.checkBatch(batch);
    const kept: tf.Tensor[] = [];
    const reports: [string, tf.Tensor][] = [];
    const snapshot = this.snapshotStatistics();
    let fusionTouched = false;
    let applied = true;
    const labels = tf.tidy(() => oneHotLabels(batch.labels, this.view.numClasses));
    const ctx: StepContext = {
      view: this.view,
      step: this.stepIndex,
      epoch: this.epochIndex,
      stepInEpoch: this.stepInEpoch,
      stepsPerEpoch: this.stepsPerEpoch,
      batch,
      labels,
      variables: this.variables,
      optimizer: this.optimizer,
      forward: (o = {}) => this.view.forward(o.inputs ?? batch.inputs, o.training ?? true),
      modalityLogits: (out) => this.modalityLogits(out),
      gradients: (loss) => this.gradients(loss),
      keep: (t) => {
        kept.push(tf.keep(t));
        return t;
      },
      applyGradients: (grads, loss) => {
        const ok = this.applyGradients(grads, loss, snapshot);
        if (!ok) applied = false;
        return ok;
      },
      report: (name, t) => {
        reports.push([name, t]);
      },
      setFusionMode: (mode: FusionMode, recording: FusionRecording = 'none') => {
        fusionTouched = true;
        setFusionMode(this.view.fusionLayers, mode);
        setFusionRecording(this.view.fusionLayers, recording);
      },
    };
    let values: Float32Array;
    try {
      this.balancer.beforeStep?.(ctx);
      values = tf.tidy(() => {
        let loss: tf.Scalar | undefined;
        if (this.balancer.step) {
          loss = this.balancer.step(ctx);
        } else {
          const { value, grads } =
            this.balancer.gradients?.(ctx) ??
            ctx.gradients(() => {
              const out = ctx.forward();
              return this.balancer.loss?.(ctx, out) ?? this.view.baseLoss(out, labels);
            });
          const final = this.balancer.transformGradients?.(ctx, grads) ?? grads;
          ctx.applyGradients(final, value);
          loss = value;
        }
        if (applied) this.balancer.afterApply?.(ctx);
        const parts = [tf.reshape(loss ?? tf.scalar(Number.NaN), [1]), ...(applied ? reports.map(([, t]) => tf.reshape(tf.cast(t, 'float32'), [-1])) : [])];
        return tf.concat(parts).dataSync() as Float32Array;
      });
    } finally {
      tf.dispose([...kept, labels]);
      tf.dispose(snapshot.map((s) => s.saved));
      if (fusionTouched) {
        setFusionMode(this.view.fusionLayers, NORMAL_MODE);
        setFusionRecording(this.view.fusionLayers, 'none');
      }
    }
    const index = this.stepIndex;
    const loss = values[0];
    if (!applied) {
      this.skipped++;
      return { step: index, loss, applied: false, metrics: {} as M };
    }
    const reported: Record<string, Float32Array> = {};
    let offset = 1;
    for (const [name, t] of reports) {
      reported[name] = values.slice(offset, offset + t.size);
      offset += t.size;
    }
    const metrics = this.balancer.afterStep?.(ctx, reported) ?? ({} as M);
    this.stepIndex++;
    this.stepInEpoch++;
    return { step: index, loss, applied: true, metrics };
  }

  /** Prediction logits (and per-modality logits when available) for inputs; the caller disposes them. */
  predict(inputs: tf.Tensor[]): { prediction: tf.Tensor2D; modalities: tf.Tensor2D[] | null } {
    this.checkUsable();
    const result = tf.tidy(() => {
      const out = this.view.forward(inputs, false);
      const modalities = this.hasModalityLogits() ? this.modalityLogits(out) : [];
      const prediction = this.balancer.predict?.(this.view, out, () => modalities) ?? out.prediction;
      return { prediction, modalities };
    });
    return { prediction: result.prediction, modalities: result.modalities.length ? result.modalities : null };
  }

  /** Accuracy and loss of the prediction (and of each modality's logits) over batches, which it disposes. */
  async evaluate(batches: BatchSource): Promise<Evaluation> {
    let correct = 0;
    let lossSum = 0;
    let samples = 0;
    let modalityCorrect: number[] | null = null;
    for await (const batch of iterateBatches(batches)) {
      try {
        const counts = tf.tidy(() => {
          const { prediction, modalities } = this.predict(batch.inputs);
          const labels = oneHotLabels(batch.labels, this.view.numClasses);
          const truth = tf.argMax(labels, -1);
          const hits = (logits: tf.Tensor2D) => tf.sum(tf.cast(tf.equal(tf.argMax(logits, -1), truth), 'float32'));
          const lossSum = tf.mul(tf.losses.softmaxCrossEntropy(labels, prediction), labels.shape[0]);
          return tf.stack([hits(prediction), lossSum, ...(modalities ?? []).map(hits)]).dataSync();
        });
        correct += counts[0];
        lossSum += counts[1];
        if (counts.length > 2) {
          modalityCorrect ??= new Array(counts.length - 2).fill(0);
          for (let k = 2; k < counts.length; k++) modalityCorrect[k - 2] += counts[k];
        }
        samples += batch.labels.shape[0];
      } finally {
        tf.dispose([...batch.inputs, batch.labels]);
      }
    }
    if (samples === 0) throw new Error('cannot evaluate on an empty data source (no batches or no samples)');
    return { accuracy: correct / samples, modalityAccuracy: modalityCorrect?.map((c) => c / samples) ?? null, loss: lossSum / samples, samples };
  }

  /**
   * Everything a resumed run needs: the model's weights (batch-norm and fusion statistics
   * included), auxiliary heads, optimizer slots and iteration count, the balancer's state and
   * the counters, as host arrays (write them with any tensor format).
   */
  async checkpoint(): Promise<TrainerCheckpoint> {
    this.checkUsable();
    const tensors: Record<string, StoredTensor> = {};
    for (const w of this.model.weights) tensors[`model/${w.originalName}`] = store(w.read());
    if (this.aux) this.aux.variables.forEach((v, i) => (tensors[`aux/${i}`] = store(v)));
    const slots = await this.optimizer.getWeights();
    // getWeights() returns the slot variables themselves plus a fresh iteration-count scalar.
    const [iterations, ...slotWeights] = slots;
    slotWeights.forEach((w, i) => (tensors[`optimizer/${String(i).padStart(5, '0')}`] = store(w.tensor)));
    const iterationCount = iterations ? iterations.tensor.dataSync()[0] : 0;
    tf.dispose(slots.map((w) => w.tensor).filter((t) => !(t instanceof tf.Variable)));
    const balancer = this.balancer.state();
    for (const [name, t] of Object.entries(balancer.tensors ?? {})) {
      tensors[`balancer/${name}`] = store(t);
    }
    tf.dispose(Object.values(balancer.tensors ?? {}));
    return {
      format: CHECKPOINT_FORMAT,
      json: {
        step: this.stepIndex,
        epoch: this.epochIndex,
        stepInEpoch: this.stepInEpoch,
        stepsPerEpoch: this.stepsPerEpoch ?? null,
        skippedSteps: this.skipped,
        balancer: { name: this.balancer.name, state: balancer.json },
        optimizer: { className: this.optimizer.getClassName(), iterations: iterationCount, slots: slotWeights.length },
        layers: Object.fromEntries(hostStateLayers(this.model).map((l) => [l.name, l.hostState()])),
      },
      tensors,
    };
  }

  /**
   * Continues from a checkpoint made by a trainer with the same model, optimizer type and
   * balancer. Everything is checked before anything changes (format, counters, every tensor's
   * shape, dtype and finiteness, the balancer's own state): a checkpoint that does not fit is a
   * CheckpointError and leaves this trainer as it was.
   */
  async restore(checkpoint: TrainerCheckpoint): Promise<void> {
    this.checkUsable();
    const { json, tensors } = checkCheckpoint(checkpoint, CHECKPOINT_FORMAT);
    if (json.balancer.name !== this.balancer.name) throw new CheckpointError(`the checkpoint was made with ${json.balancer.name}, this trainer runs ${this.balancer.name}`);
    if (json.optimizer.className !== this.optimizer.getClassName()) throw new CheckpointError(`the checkpoint's optimizer is ${json.optimizer.className}, this trainer's is ${this.optimizer.getClassName()}`);
    const modelNames = this.model.weights.map((w) => `model/${w.originalName}`);
    const stored = Object.keys(tensors).filter((n) => n.startsWith('model/'));
    const missing = modelNames.filter((n) => !(n in tensors));
    const extra = stored.filter((n) => !modelNames.includes(n));
    if (missing.length || extra.length) {
      throw new CheckpointError(
        `the checkpoint does not fit this model:${missing.length ? ` missing ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ` and ${missing.length - 5} more` : ''};` : ''}${extra.length ? ` unexpected ${extra.slice(0, 5).join(', ')};` : ''} was it made with another model or other settings?`,
      );
    }
    for (const w of this.model.weights) checkFits(`model/${w.originalName}`, tensors[`model/${w.originalName}`], w, "the model's weight");
    this.aux?.variables.forEach((v, i) => {
      const s = tensors[`aux/${i}`];
      if (!s) throw new CheckpointError(`the checkpoint has no auxiliary head tensor aux/${i}; was it made with a method without auxiliary heads?`);
      checkFits(`aux/${i}`, s, v, "the auxiliary head's");
    });
    // tfjs optimizers keep at most three slots per variable (RMSProp centered).
    if (json.optimizer.slots % this.variables.length !== 0 || json.optimizer.slots > 3 * this.variables.length) {
      throw new CheckpointError(`the checkpoint has ${json.optimizer.slots} optimizer slots, not 0 to 3 per variable of this trainer's ${this.variables.length}`);
    }
    const slotNames = Array.from({ length: json.optimizer.slots }, (_, i) => `optimizer/${String(i).padStart(5, '0')}`);
    slotNames.forEach((name, i) => {
      if (!tensors[name]) throw new CheckpointError(`the checkpoint lacks optimizer slot ${name}`);
      // The trainer hands the optimizer every variable in the same order, so slot i belongs to variable i mod n.
      checkFits(name, tensors[name], this.variables[i % this.variables.length], `its variable ${this.variables[i % this.variables.length].name}`);
    });

    for (const [name, t] of Object.entries(tensors)) if (name.startsWith('balancer/')) checkFinite(name, t);
    // The balancer checks its own state; if it refuses, it is put back as it was. A tensor it
    // holds already must come back with the same shape and dtype.
    const previous = this.balancer.state();
    try {
      for (const [name, t] of Object.entries(previous.tensors ?? {})) {
        const saved = tensors[`balancer/${name}`];
        if (saved) checkFits(`balancer/${name}`, saved, t, `the balancer's own ${name}`);
      }
    } catch (error) {
      tf.dispose(Object.values(previous.tensors ?? {}));
      throw error;
    }
    // Layers with host state take theirs (a checkpoint from before they saved any leaves them as
    // they are); one that refuses puts every layer back.
    const layers = json.layers ?? {};
    const hostLayers = hostStateLayers(this.model).filter((l) => (layers as Record<string, unknown>)[l.name] !== undefined);
    const previousHost = hostLayers.map((l) => l.hostState());
    try {
      for (const l of hostLayers) l.setHostState((layers as Record<string, unknown>)[l.name]);
    } catch (error) {
      hostLayers.forEach((l, i) => l.setHostState(previousHost[i]));
      tf.dispose(Object.values(previous.tensors ?? {}));
      throw new CheckpointError(`the checkpoint's layer state cannot be restored: ${(error as Error).message}`, { cause: error });
    }

    const balancerTensors: Record<string, tf.Tensor> = {};
    for (const [name, s] of Object.entries(tensors)) if (name.startsWith('balancer/')) balancerTensors[name.slice('balancer/'.length)] = load(s);
    try {
      this.balancer.restore({ json: json.balancer.state, tensors: balancerTensors });
    } catch (error) {
      hostLayers.forEach((l, i) => l.setHostState(previousHost[i]));
      try {
        this.balancer.restore(previous);
      } catch {
        // Its own state came from state() just above; nothing better to restore.
      }
      throw new CheckpointError(`the checkpoint's ${json.balancer.name} state cannot be restored: ${(error as Error).message}`, { cause: error });
    } finally {
      tf.dispose([...Object.values(balancerTensors), ...Object.values(previous.tensors ?? {})]);
    }

    tf.tidy(() => {
      for (const w of this.model.weights) w.write(load(tensors[`model/${w.originalName}`]));
      this.aux?.variables.forEach((v, i) => v.assign(load(tensors[`aux/${i}`])));
    });
    const slots = slotNames.map((name) => ({ name, tensor: load(tensors[name]) }));
    const iterations = tf.scalar(json.optimizer.iterations, 'int32');
    // A trainer that has stepped already: its optimizer's slot variables are replaced, not reused.
    const [currentIterations, ...currentSlots] = await this.optimizer.getWeights();
    try {
      if (slots.length > 0 || json.optimizer.iterations > 0 || currentSlots.length > 0) {
        await this.optimizer.setWeights([{ name: 'iter', tensor: iterations }, ...slots]);
        tf.dispose(currentSlots.map((w) => w.tensor));
      }
    } finally {
      // setWeights copies the slots into the optimizer's own variables and only reads the iteration count.
      tf.dispose([iterations, ...slots.map((s) => s.tensor), ...(currentIterations ? [currentIterations.tensor] : [])]);
    }
    this.stepIndex = json.step;
    this.epochIndex = json.epoch;
    this.stepInEpoch = json.stepInEpoch;
    this.stepsPerEpoch = json.stepsPerEpoch ?? undefined;
    this.skipped = json.skippedSteps;
  }

  /** Frees the optimizer, the auxiliary heads and the balancer's tensors (not the model: it is yours). */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.balancer.dispose?.();
    this.aux?.dispose();
    disposeOptimizer(this.optimizer);
  }

  private checkUsable(): void {
    if (this.disposed) throw new Error('this trainer was disposed');
  }

  private checkBatch(batch: LabeledBatch): void {
    if (!batch || !Array.isArray(batch.inputs) || batch.labels === undefined) {
      throw new Error('a batch is { inputs: [one tensor per modality], labels: class indices [B] or one-hot [B, classes] }');
    }
    if (batch.inputs.length !== this.view.numModalities) {
      throw new Error(`the model takes ${this.view.numModalities} inputs (one per modality), the batch has ${batch.inputs.length}`);
    }
    const size = batch.labels.shape[0];
    const bad = batch.inputs.findIndex((x) => x.shape[0] !== size);
    if (bad >= 0) throw new Error(`input ${bad} has ${batch.inputs[bad].shape[0]} samples, the labels ${size}`);
  }

  private hasModalityLogits(): boolean {
    return this.aux !== undefined || this.view.has('modality-logits');
  }

  private modalityLogits(out: ForwardOutputs): tf.Tensor2D[] {
    if (this.logitSource === 'aux') return this.aux!.logits(out);
    if (this.logitSource === 'heads' && out.heads) return out.heads;
    return this.view.modalityLogits(out);
  }

  private gradients(loss: () => tf.Scalar): { value: tf.Scalar; grads: Gradients } {
    const { value, grads: connected } = tf.variableGrads(loss, this.variables);
    // tfjs optimizers keep their slots by the position of each gradient in the map, so the map
    // must list every variable in the same order at every step: zeros for the ones the loss
    // does not reach (a re-balanced excitation, another modality's branch), as PyTorch's SGD
    // sees zeroed .grad tensors.
    const grads: Gradients = {};
    for (const v of this.variables) grads[v.name] = connected[v.name] ?? tf.zerosLike(v);
    return { value, grads };
  }

  /** Non-trainable weights a forward pass writes (batch-norm and fusion statistics), to put back if the step diverges. */
  private snapshotStatistics(): { variable: { write(value: tf.Tensor): void }; saved: tf.Tensor }[] {
    return this.model.nonTrainableWeights.map((w) => ({ variable: w, saved: tf.clone(w.read()) }));
  }

  private applyGradients(grads: Gradients, loss: tf.Scalar, snapshot: { variable: { write(value: tf.Tensor): void }; saved: tf.Tensor }[]): boolean {
    const present = this.variables.filter((v) => grads[v.name] != null);
    const [lossValue, gradSum] = tf.tidy(() =>
      tf.stack([tf.reshape(loss, []), present.length ? tf.sum(tf.concat(present.map((v) => tf.reshape(grads[v.name], [-1])))) : tf.scalar(0)]).dataSync(),
    );
    if (Number.isFinite(lossValue) && Number.isFinite(gradSum)) {
      // Every variable in the same position at every step (tfjs optimizers index their slots by
      // position); one without a gradient is skipped, momentum included, as PyTorch skips a
      // parameter whose .grad is None.
      this.optimizer.applyGradients(Object.fromEntries(this.variables.map((v) => [v.name, grads[v.name]])) as tf.NamedTensorMap);
      return true;
    }
    // The forward pass has already written batch-norm and fusion statistics: put them back.
    tf.tidy(() => snapshot.forEach((s) => s.variable.write(s.saved)));
    if (this.nonFinite === 'skip') return false;
    const bad = present.filter((v) => !tf.tidy(() => tf.all(tf.isFinite(grads[v.name])).dataSync()[0])).map((v) => v.name);
    throw new TrainingDivergedError(this.stepIndex, lossValue, bad.slice(0, 10));
  }
}
