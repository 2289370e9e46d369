import * as tf from '@tensorflow/tfjs-core';
import { NORMAL_MODE } from '@mm/mmtm';
import { groupSquaredNorms, LearningSpeedTracker, type LearningSpeedState } from '@mm/metrics';
import type { AttachContext, Balancer, BalancerState, Gradients, Requirements, StepContext } from '../balancer.js';
import type { ParameterGroups } from '../parameter-groups.js';
import { sumOfCrossEntropies, type LossStrategy } from '../losses.js';
import { CheckpointError } from '../errors.js';
import { schedulerFromJSON, VanillaScheduler, type Scheduler, type SchedulerState, type StepKind } from '../schedulers.js';
import type { ForwardOutputs } from '../fusion/model-view.js';

/**
 * Balanced multi-modal learning (Wu, Jastrzębski, Cho & Geras, "Characterizing and Overcoming
 * the Greedy Nature of Learning in Multi-modal Deep Neural Networks", ICML 2022).
 *
 * Measures: the conditional learning speed s(m_j|m_k) = log(Σ_t μ(θ'_k) / Σ_t μ(θ_k)) with
 * μ(θ) = ‖∇θ‖²/‖θ‖² (Def. 5.1), accumulated over regular steps, and d_speed = s_0 − s_1.
 * Changes: the fusion layers' mode. A re-balancing step of modality k replaces k's MMTM
 * excitation by its mean over preceding regular steps (Eq. 13–14), so head k must learn from k's
 * own branch. The scheduler decides: vanilla (never), guided (Algorithm 1: Q re-balancing steps
 * whenever |d_speed| > α after a warm-up epoch), random (uniform over regular and re-balance m_k).
 * Loss: Σ_k CE(y, ŷ_k) over the per-modality heads (Eq. 4), or RUBi's.
 * Defaults (paper, Colored-and-gray-MNIST): α 0.1, Q 5, one warm-up epoch, log10 as the
 * reference code. Cost: two squared-norm reductions per group on regular steps, no extra pass.
 * Needs: an MMTM-fused model with one head per modality (any number of modalities, §6.4).
 * Under Adam: the method changes the forward pass, not gradient scales, so Adam does not undo it.
 */
export interface GreedyOptions {
  /** Default: vanilla (regular steps only, still measuring d_speed). */
  scheduler?: Scheduler;
  /** Default: Σ_k CE (Eq. 4). */
  loss?: LossStrategy;
  /**
   * The learning-speed bookkeeping. `false` turns it off (then only the vanilla and random
   * schedulers work). `logBase` default 10 (reference code; the paper writes log); `weightNorm`:
   * ‖θ‖ after the update (Def. 5.1's θ_(i), default) or before it (reference code).
   */
  learningSpeed?: false | { logBase?: number; weightNorm?: 'after' | 'before' };
  /** Name in messages and saved state (default from the scheduler: 'guided', 'random', 'vanilla'; 'rubi' with RUBi's loss). */
  name?: string;
}

export interface GreedyMetrics {
  [key: string]: number | null;
  /** d_speed after this step (null until every group has moved, or with the bookkeeping off). */
  dSpeed: number | null;
  /** The modality this step re-balanced, or null for a regular step. */
  rebalance: number | null;
}

/** Steps after which a group that never moved is reported (its learning speed stays undefined). */
const STILL_GROUP_STEPS = 50;

export class Greedy implements Balancer<GreedyMetrics> {
  readonly name: string;
  readonly requirements: Requirements;
  readonly lossStrategy: LossStrategy;
  private scheduler_: Scheduler;
  private speed_: LearningSpeedTracker | undefined;
  private readonly speedOptions: false | { logBase?: number; weightNorm?: 'after' | 'before' };
  private groups?: ParameterGroups;
  private kind: StepKind | undefined;
  private warn: (message: string) => void = () => {};
  private warnedStill = false;

  constructor(options: GreedyOptions = {}) {
    this.scheduler_ = options.scheduler ?? new VanillaScheduler();
    this.lossStrategy = options.loss ?? sumOfCrossEntropies;
    this.speedOptions = options.learningSpeed ?? {};
    this.name = options.name ?? (this.lossStrategy.name === 'rubi' && this.scheduler_.name === 'vanilla' ? 'rubi' : this.scheduler_.name);
    const needsFusion = this.scheduler_.name !== 'vanilla' || this.speedOptions !== false;
    this.requirements = { capabilities: needsFusion ? ['fusion-layers'] : [], modalityLogits: ['heads'] };
  }

  get scheduler(): Scheduler {
    return this.scheduler_;
  }

  /** The learning-speed tracker (undefined with the bookkeeping off). */
  get speed(): LearningSpeedTracker | undefined {
    return this.speed_;
  }

  attach({ view, warn }: AttachContext): void {
    this.warn = warn;
    if (this.speedOptions !== false) {
      if (!view.groups) throw new Error(`${this.name}: the learning speed needs the parameter groups of an MMTM model`);
      this.groups = view.groups;
      this.speed_ ??= new LearningSpeedTracker({ numModalities: view.groups.numModalities, logBase: this.speedOptions.logBase });
    } else if (this.scheduler_.name === 'guided') {
      throw new Error('the guided scheduler decides from the learning speed; do not turn learningSpeed off');
    }
  }

  private measuring(): boolean {
    return this.kind?.type === 'regular' && this.speed_ !== undefined;
  }

  beforeStep(ctx: StepContext): void {
    this.kind = this.scheduler_.next();
    if (ctx.view.fusionLayers.length === 0) return;
    // Excitation means are recorded on regular steps only: re-balancing steps substitute them.
    if (this.kind.type === 'regular') ctx.setFusionMode(NORMAL_MODE, 'excitation');
    else ctx.setFusionMode({ kind: 'rebalance', modality: this.kind.modality });
  }

  loss(ctx: StepContext, out: ForwardOutputs): tf.Scalar {
    return this.lossStrategy.compute(ctx.modalityLogits(out), ctx.labels);
  }

  transformGradients(ctx: StepContext, grads: Gradients): Gradients {
    if (this.measuring()) {
      const g = this.groups!;
      const pick = (vars: { read(): tf.Tensor }[]) => vars.map((v) => grads[(v.read() as tf.Variable).name]);
      ctx.report('gradNorms', groupSquaredNorms([...g.branch.map(pick), ...g.fusion.map(pick)]));
      if (this.weightNorm() === 'before') ctx.report('weightNorms', this.weightSquaredNorms());
    }
    return grads;
  }

  afterApply(ctx: StepContext): void {
    if (this.measuring() && this.weightNorm() === 'after') ctx.report('weightNorms', this.weightSquaredNorms());
  }

  afterStep(ctx: StepContext, reported: Record<string, Float32Array>): GreedyMetrics {
    const kind = this.kind!;
    if (this.measuring()) {
      const k = this.groups!.numModalities;
      const grad = reported.gradNorms;
      const weight = reported.weightNorms;
      // A group with no weight and no gradient (all zeros) does not move: μ = 0, not 0/0.
      const mu = Array.from(grad, (v, i) => (v === 0 && weight[i] === 0 ? 0 : v / weight[i]));
      this.speed_!.accumulate({ branch: mu.slice(0, k), fusion: mu.slice(k) });
      this.checkGroupsMove(ctx.step);
    }
    this.scheduler_.afterStep(kind, this.speed_);
    this.kind = undefined;
    return { dSpeed: this.speed_?.dSpeed() ?? null, rebalance: kind.type === 'rebalance' ? kind.modality : null };
  }

  /** A group whose weights never change leaves its speed undefined, and balancing never starts: say so once. */
  private checkGroupsMove(step: number): void {
    if (this.warnedStill || this.speed_!.accumulatedSteps < STILL_GROUP_STEPS) return;
    const speeds = this.speed_!.speeds();
    if (speeds.every((s) => s !== null)) return;
    this.warnedStill = true;
    const still = speeds.flatMap((s, k) => (s === null ? [`modality ${k}`] : []));
    this.warn(`${this.name}: after ${step + 1} steps the learning speed of ${still.join(', ')} is still undefined (a parameter group has not moved: no gradient reaches it, or its weights are all zero), so d_speed is undefined and no re-balancing will happen`);
  }

  private weightNorm(): 'after' | 'before' {
    return (this.speedOptions && this.speedOptions.weightNorm) || 'after';
  }

  private weightSquaredNorms(): tf.Tensor1D {
    const g = this.groups!;
    const read = (vars: { read(): tf.Tensor }[]) => vars.map((v) => v.read());
    return groupSquaredNorms([...g.branch.map(read), ...g.fusion.map(read)]);
  }

  state(): BalancerState {
    return { json: { scheduler: this.scheduler_.toJSON(), speed: this.speed_?.toJSON() ?? null } };
  }

  /** Checks all of the saved state (scheduler kind and counters, learning-speed totals, modality count) before taking any of it. */
  restore(state: BalancerState): void {
    const json = state.json as { scheduler?: SchedulerState; speed?: LearningSpeedState | null };
    if (Boolean(json.speed) !== Boolean(this.speed_)) {
      throw new CheckpointError(`${this.name}: saved state and this balancer disagree on learning-speed tracking; create it with the same options`);
    }
    const scheduler = schedulerFromJSON(json.scheduler as SchedulerState);
    if (scheduler.name !== this.scheduler_.name) throw new CheckpointError(`${this.name}: the saved state has a ${scheduler.name} scheduler, this balancer a ${this.scheduler_.name} one`);
    const modalities = this.groups?.numModalities;
    const saved = scheduler.toJSON();
    const count = saved.name === 'random' ? saved.numModalities : undefined;
    if (modalities !== undefined && count !== undefined && count !== modalities) throw new CheckpointError(`${this.name}: the saved scheduler draws among ${count} modalities, the model has ${modalities}`);
    if (modalities !== undefined && saved.name === 'guided' && (saved.modality as number) >= modalities) {
      throw new CheckpointError(`${this.name}: the saved scheduler re-balances modality ${saved.modality}, the model has ${modalities}`);
    }
    let speed: LearningSpeedTracker | undefined;
    if (json.speed) {
      try {
        speed = LearningSpeedTracker.fromJSON(json.speed);
      } catch (error) {
        throw new CheckpointError(`${this.name}: ${(error as Error).message}`, { cause: error });
      }
      if (modalities !== undefined && speed.numModalities !== modalities) throw new CheckpointError(`${this.name}: the saved learning speed has ${speed.numModalities} modalities, the model ${modalities}`);
    }
    this.scheduler_ = scheduler;
    if (speed) this.speed_ = speed;
  }
}
