export { BalancedTrainer, CHECKPOINT_FORMAT, type BalancedTrainerOptions, type EpochOptions, type Evaluation, type StepResult, type StoredTensor, type TrainerCheckpoint } from './balanced-trainer.js';
export type { AttachContext, Balancer, BalancerState, EpochContext, Gradients, ModalityLogitSource, Requirements, StepContext, StepMetrics } from './balancer.js';
export { ModelView, type Capability, type ForwardOutputs, type FusionDeclaration, type FusionKind } from './fusion/model-view.js';
export { BalanceError, CheckpointError, IncompatibleModelError, TrainingDivergedError } from './errors.js';
export { checkRequirements, methodsFor, unmetRequirements } from './requirements.js';
export { METHODS, methodEntry, type MethodContext, type MethodEntry } from './methods/index.js';
export { Greedy, type GreedyMetrics, type GreedyOptions } from './methods/greedy.js';
export { Vanilla } from './methods/vanilla.js';
export { OgmGe, type OgmGeMetrics, type OgmGeOptions } from './methods/ogm-ge.js';
export { Agm, type AgmMetrics, type AgmOptions } from './methods/agm.js';
export { ModalityDropout, type ModalityDropoutMetrics, type ModalityDropoutOptions } from './methods/modality-dropout.js';
export { Pmr, prototypeLogits, type PmrMetrics, type PmrOptions } from './methods/pmr.js';
export { MmPareto, minNormWeight, type MmParetoMetrics, type MmParetoOptions } from './methods/mm-pareto.js';
export { GradientBlending, type BlendingEstimate, type GradientBlendingMetrics, type GradientBlendingOptions, type ObjectiveMeasurement } from './methods/gradient-blending.js';
export { teacherFromModel, Umt, type FeatureTeacher, type UmtMetrics, type UmtOptions } from './methods/umt.js';
export { Ume } from './methods/ume.js';
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
