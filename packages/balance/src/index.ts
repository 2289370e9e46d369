export {
  resolveParameterGroups,
  type LayerSelector,
  type ParameterGroupDeclaration,
  type ParameterGroups,
} from './parameter-groups.js';
export {
  GuidedScheduler,
  RandomScheduler,
  REGULAR,
  schedulerFromJSON,
  VanillaScheduler,
  type GuidedOptions,
  type RandomOptions,
  type Scheduler,
  type SchedulerState,
  type StepKind,
} from './schedulers.js';
export { rubiLoss, sumOfCrossEntropies, type LossStrategy, type RubiOptions } from './losses.js';
export { BalancedTrainer, type StepResult, type TrainingStepOptions, type TrainingStepState } from './training-step.js';
