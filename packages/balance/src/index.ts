export { BalancedTrainer, CHECKPOINT_FORMAT, type BalancedTrainerOptions, type EpochOptions, type Evaluation, type StepResult, type StoredTensor, type TrainerCheckpoint } from './balanced-trainer.js';
export type { AttachContext, Balancer, BalancerState, EpochContext, Gradients, ModalityLogitSource, Requirements, StepContext, StepMetrics } from './balancer.js';
export { ModelView, type Capability, type ForwardOutputs, type FusionDeclaration, type FusionKind } from './fusion/model-view.js';
export { BalanceError, IncompatibleModelError, TrainingDivergedError } from './errors.js';
export { checkRequirements, methodsFor, unmetRequirements } from './requirements.js';
export { METHODS, methodEntry, type MethodContext, type MethodEntry } from './methods/index.js';
export { Greedy, type GreedyMetrics, type GreedyOptions } from './methods/greedy.js';
export { Vanilla } from './methods/vanilla.js';
export { OgmGe, type OgmGeMetrics, type OgmGeOptions } from './methods/ogm-ge.js';
export { Mla, type MlaMetrics, type MlaOptions } from './methods/mla.js';
export { mixSeed } from './random.js';
export {
  resolveParameterGroups,
  type LayerSelector,
  type ParameterGroupDeclaration,
  type ParameterGroups,
} from './parameter-groups.js';
export {
  formatStepKind,
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
export { crossEntropy, rubiLoss, sumOfCrossEntropies, type LossStrategy, type RubiOptions } from './losses.js';
