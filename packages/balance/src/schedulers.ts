import type { LearningSpeedTracker } from '@mm/metrics';
import { CheckpointError } from './errors.js';
import { Mulberry32 } from './random.js';

/** A saved scheduler field, checked: `test` says what is allowed, in words for the message. */
function field<T>(state: SchedulerState, key: string, test: (v: unknown) => boolean, allowed: string): T {
  const value = state[key];
  if (!test(value)) throw new CheckpointError(`saved ${state.name} scheduler: ${key} must be ${allowed}, got ${JSON.stringify(value) ?? String(value)}`);
  return value as T;
}
const isCount = (v: unknown) => Number.isSafeInteger(v) && (v as number) >= 0;
const isStepKind = (v: unknown) =>
  v !== null && typeof v === 'object' && ((v as StepKind).type === 'regular' || ((v as StepKind).type === 'rebalance' && isCount((v as { modality: unknown }).modality)));

/** What a training step does: a regular step, or a re-balancing step that accelerates modality k. */
export type StepKind = { type: 'regular' } | { type: 'rebalance'; modality: number };

export const REGULAR: StepKind = Object.freeze({ type: 'regular' });

/** 'regular' or 'rebalance m{k}', for logs. */
export function formatStepKind(kind: StepKind): string {
  return kind.type === 'regular' ? 'regular' : `rebalance m${kind.modality}`;
}

export interface SchedulerState {
  name: string;
  [key: string]: unknown;
}

/**
 * Chooses each step's kind. `next()` is asked before a step; `afterStep()` is told what was
 * done, with the learning-speed tracker already updated when the step was regular.
 */
export interface Scheduler {
  readonly name: string;
  next(): StepKind;
  afterStep(kind: StepKind, speed: LearningSpeedTracker | undefined): void;
  toJSON(): SchedulerState;
}

export interface WarmupOptions {
  /** Regular steps before balancing may start (the paper: one epoch). */
  warmupSteps: number;
}

function checkWarmup(warmupSteps: number): void {
  if (!(Number.isInteger(warmupSteps) && warmupSteps >= 0)) throw new Error(`warmupSteps must be a non-negative integer, got ${warmupSteps}`);
}

/** Only regular steps: the conventional multi-modal training ("vanilla"). */
export class VanillaScheduler implements Scheduler {
  readonly name = 'vanilla';
  next(): StepKind {
    return REGULAR;
  }
  afterStep(): void {}
  toJSON(): SchedulerState {
    return { name: this.name };
  }
}

export interface GuidedOptions extends WarmupOptions {
  /** Imbalance tolerance α: re-balance when |d_speed| > α. */
  alpha: number;
  /** Re-balancing window size Q. */
  windowSize: number;
}

/**
 * Algorithm 1 ("guided"). Regular steps during warm-up; afterwards, after every regular step,
 * if |d_speed| > α, take Q re-balancing steps accelerating m0 if d_speed > 0 else m1 (for more
 * modalities: the one with the largest conditional learning speed), then regular again. The
 * decision taken after a step applies from the next step. Algorithm 1's pseudo-code, read
 * literally, takes Q−1 re-balancing steps (q runs from 1 to Q); we follow the text and the
 * reference code: Q re-balancing steps per window.
 */
export class GuidedScheduler implements Scheduler {
  readonly name = 'guided';
  readonly alpha: number;
  readonly windowSize: number;
  readonly warmupSteps: number;
  private step = 0;
  private remaining = 0;
  private modality = 0;
  private lastDSpeed: number | null = null;

  constructor(options: GuidedOptions) {
    checkWarmup(options.warmupSteps);
    if (!(options.alpha >= 0)) throw new Error(`alpha must be ≥ 0, got ${options.alpha}`);
    if (!(Number.isInteger(options.windowSize) && options.windowSize >= 1)) throw new Error(`windowSize (Q) must be a positive integer, got ${options.windowSize}`);
    this.alpha = options.alpha;
    this.windowSize = options.windowSize;
    this.warmupSteps = options.warmupSteps;
  }

  next(): StepKind {
    return this.remaining > 0 ? { type: 'rebalance', modality: this.modality } : REGULAR;
  }

  afterStep(kind: StepKind, speed: LearningSpeedTracker | undefined): void {
    const index = this.step++;
    if (kind.type === 'rebalance') {
      this.remaining = Math.max(0, this.remaining - 1);
      return;
    }
    if (speed === undefined) throw new Error('the guided scheduler needs the learning-speed tracker (parameter groups) to decide');
    const imbalance = speed.imbalance();
    this.lastDSpeed = imbalance?.dSpeed ?? null;
    if (index < this.warmupSteps || imbalance === null) return;
    if (Math.abs(imbalance.dSpeed) > this.alpha) {
      this.remaining = this.windowSize;
      this.modality = imbalance.accelerate;
    }
  }

  toJSON(): SchedulerState {
    return { name: this.name, alpha: this.alpha, windowSize: this.windowSize, warmupSteps: this.warmupSteps, step: this.step, remaining: this.remaining, modality: this.modality, lastDSpeed: this.lastDSpeed };
  }

  static fromJSON(state: SchedulerState): GuidedScheduler {
    const windowSize = field<number>(state, 'windowSize', (v) => isCount(v) && (v as number) >= 1, 'an integer ≥ 1');
    const s = new GuidedScheduler({
      alpha: field<number>(state, 'alpha', (v) => typeof v === 'number' && v >= 0 && Number.isFinite(v), 'a finite number ≥ 0'),
      windowSize,
      warmupSteps: field<number>(state, 'warmupSteps', isCount, 'an integer ≥ 0'),
    });
    s.step = field<number>(state, 'step', isCount, 'an integer ≥ 0');
    s.remaining = field<number>(state, 'remaining', (v) => isCount(v) && (v as number) <= windowSize, `an integer in 0…${windowSize} (the window size)`);
    s.modality = field<number>(state, 'modality', isCount, 'an integer ≥ 0');
    s.lastDSpeed = field<number | null>(state, 'lastDSpeed', (v) => v === null || Number.isFinite(v), 'a finite number or null');
    return s;
  }
}

export interface RandomOptions extends WarmupOptions {
  numModalities?: number;
  seed?: number;
}

/**
 * The "random" variant (§6.4): regular steps during warm-up, then each step uniformly one of
 * regular, re-balance m0, …, re-balance m_{K−1}. Seeded, and its state resumes exactly.
 */
export class RandomScheduler implements Scheduler {
  readonly name = 'random';
  readonly warmupSteps: number;
  readonly numModalities: number;
  private step = 0;
  private readonly rng: Mulberry32;

  constructor(options: RandomOptions) {
    checkWarmup(options.warmupSteps);
    this.warmupSteps = options.warmupSteps;
    this.numModalities = options.numModalities ?? 2;
    this.rng = new Mulberry32(options.seed ?? 0);
  }

  private pending: StepKind | undefined;

  next(): StepKind {
    if (this.step < this.warmupSteps) return REGULAR;
    // Draw once per step, however often next() is asked.
    if (this.pending === undefined) {
      const choice = Math.floor(this.rng.next() * (this.numModalities + 1));
      this.pending = choice === 0 ? REGULAR : { type: 'rebalance', modality: choice - 1 };
    }
    return this.pending;
  }

  afterStep(): void {
    this.step++;
    this.pending = undefined;
  }

  toJSON(): SchedulerState {
    return { name: this.name, warmupSteps: this.warmupSteps, numModalities: this.numModalities, step: this.step, rngState: this.rng.state, pending: this.pending ?? null };
  }

  static fromJSON(state: SchedulerState): RandomScheduler {
    const numModalities = field<number>(state, 'numModalities', (v) => isCount(v) && (v as number) >= 1, 'an integer ≥ 1');
    const s = new RandomScheduler({ warmupSteps: field<number>(state, 'warmupSteps', isCount, 'an integer ≥ 0'), numModalities });
    s.step = field<number>(state, 'step', isCount, 'an integer ≥ 0');
    s.rng.state = field<number>(state, 'rngState', (v) => isCount(v) && (v as number) <= 0xffffffff, 'a 32-bit unsigned integer');
    const pending = field<StepKind | null>(state, 'pending', (v) => v === null || (isStepKind(v) && ((v as StepKind).type === 'regular' || (v as { modality: number }).modality < numModalities)), `null or a step kind of one of ${numModalities} modalities`);
    s.pending = pending ?? undefined;
    return s;
  }
}

/** Rebuilds a scheduler from its `toJSON()` state. */
export function schedulerFromJSON(state: SchedulerState): Scheduler {
  if (state === null || typeof state !== 'object') throw new CheckpointError(`saved scheduler state must be an object with a name, got ${JSON.stringify(state)}`);
  switch (state.name) {
    case 'vanilla':
      return new VanillaScheduler();
    case 'guided':
      return GuidedScheduler.fromJSON(state);
    case 'random':
      return RandomScheduler.fromJSON(state);
    default:
      throw new CheckpointError(`unknown scheduler '${String(state.name)}' in saved state (expected vanilla, guided or random)`);
  }
}
