import type { BalancedTrainer, Evaluation } from '@mm/balance';
import { tryConditionalUtilization, type BatchSource, type UtilizationReport } from '@mm/metrics';

export interface RunEvaluation {
  test: Evaluation;
  /** Conditional utilization rates (MMTM models), or null with the reason in `utilizationProblem`. */
  utilization: UtilizationReport | null;
  utilizationProblem: string | null;
}

/**
 * Test accuracy of the model as it stands (the loop leaves the best-validation weights in it),
 * and for MMTM models the conditional utilization rate (Def. 4.1): h̄ recorded on `squeezeTrain`
 * (training data without augmentation), then every head with and without the cross-modal flow.
 * A head with zero test accuracy has no rate: reported as a problem, not an error.
 */
export async function evaluateRun(trainer: BalancedTrainer, data: { test: () => BatchSource; squeezeTrain?: () => BatchSource }): Promise<RunEvaluation> {
  const test = await trainer.evaluate(data.test());
  if (trainer.view.kind !== 'mmtm' || !data.squeezeTrain) return { test, utilization: null, utilizationProblem: trainer.view.kind === 'mmtm' ? 'no training data given for the recording pass' : null };
  const { report, problem } = await tryConditionalUtilization(trainer.model, { train: data.squeezeTrain, test: data.test });
  return { test, utilization: report, utilizationProblem: problem };
}
