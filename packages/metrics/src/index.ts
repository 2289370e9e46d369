export { conditionalUtilizationRate, UndefinedUtilizationError, utilizationImbalance } from './utilization.js';
export {
  groupSquaredNorms,
  LearningSpeedTracker,
  SavedStateError,
  type EffectiveUpdates,
  type LearningSpeedOptions,
  type LearningSpeedState,
} from './learning-speed.js';
export { disposeLabeledBatch, iterateBatches, toLabeledBatch, type BatchSource, type FlatMultiModalBatch, type LabeledBatch } from './batches.js';
export {
  conditionalUtilization,
  headAccuracies,
  recordSqueezeMeans,
  tryConditionalUtilization,
  type HeadAccuracies,
  type UtilizationReport,
} from './evaluate.js';
