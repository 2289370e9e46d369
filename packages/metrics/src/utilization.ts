/**
 * Thrown when u(m_j | m_k) does not exist because head k gets nothing right (A(f_k) = 0).
 * Training applications catch this one to finish a run without the rate; any other error is a bug.
 */
export class UndefinedUtilizationError extends Error {
  override name = 'UndefinedUtilizationError';
}

/**
 * Conditional utilization rate (Def. 4.1): u(m_j | m_k) = (A(f_k) − A(f'_k)) / A(f_k), the
 * relative accuracy that head k loses when modality j's cross-modal flow is cut.
 */
export function conditionalUtilizationRate(accuracyFull: number, accuracyCut: number): number {
  for (const [name, value] of [['accuracyFull', accuracyFull], ['accuracyCut', accuracyCut]] as const) {
    if (!Number.isFinite(value) || value < 0 || value > 1) {
      throw new Error(`${name} must be an accuracy in [0, 1], got ${value}`);
    }
  }
  if (accuracyFull === 0) {
    throw new UndefinedUtilizationError(
      'conditional utilization rate is undefined when the head has zero accuracy with normal fusion (A(f_k) = 0); train longer or check the labels',
    );
  }
  return (accuracyFull - accuracyCut) / accuracyFull;
}

/** d_util = u(m1 | m0) − u(m0 | m1) (Eq. 8): positive when head 0 leans on modality 1 more than head 1 leans on modality 0. */
export function utilizationImbalance(u1given0: number, u0given1: number): number {
  return u1given0 - u0given1;
}
