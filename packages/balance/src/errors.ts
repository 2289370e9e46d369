/**
 * Errors a caller may want to handle by type. Each carries a `Symbol.for` marker so that
 * `isInstance` works even when two copies of this package are installed (instanceof does not).
 */
const MARKER = Symbol.for('@mm/balance.error');

export class BalanceError extends Error {
  private readonly [MARKER] = true;

  static isInstance(error: unknown): error is BalanceError {
    return typeof error === 'object' && error !== null && (error as Record<symbol, unknown>)[MARKER] === true;
  }
}

/**
 * A step whose loss or gradients were not finite. Raised before anything changed: the
 * optimizer, the model's weights and statistics and the balancer's state are as they were
 * before the step (`nonFinite: 'skip'` skips such a batch instead of raising).
 */
export class TrainingDivergedError extends BalanceError {
  override readonly name = 'TrainingDivergedError';
  constructor(
    /** 0-based index of the step that diverged. */
    readonly step: number,
    readonly loss: number,
    /** Variables whose gradient held NaN or ±Infinity (at most 10 listed). */
    readonly nonFiniteGradients: string[],
  ) {
    super(
      `training diverged at step ${step}: loss ${loss}${nonFiniteGradients.length ? `, non-finite gradients of ${nonFiniteGradients.join(', ')}` : ''}. ` +
        'Nothing was updated. Lower the learning rate, check the inputs for NaN, or pass nonFinite: "skip" to skip such batches.',
    );
  }
}

/** A balancing method that cannot serve this model (it lacks what the method needs). */
export class IncompatibleModelError extends BalanceError {
  override readonly name = 'IncompatibleModelError';
  constructor(
    readonly method: string,
    readonly missing: string[],
    readonly alternatives: string[],
    detail: string,
  ) {
    super(
      `${method} cannot train this model: ${detail}` +
        (alternatives.length ? ` Methods that can train it: ${alternatives.join(', ')}.` : ''),
    );
  }
}

/**
 * A checkpoint or saved state that cannot be restored: from another version, truncated, made for
 * another model or method, or with tampered counters, shapes or values. Raised before anything
 * changed: the trainer (model, optimizer, balancer, counters) is as it was.
 */
export class CheckpointError extends BalanceError {
  override readonly name = 'CheckpointError';
  constructor(problem: string, options?: { cause?: unknown }) {
    super(problem, options);
  }
}
