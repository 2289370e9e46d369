export {
  resnet18,
  resnet18Head,
  resnet18Stage,
  resnet18Stem,
  RESNET18_STAGE_CHANNELS,
  TORCH_BATCH_NORM,
  type ResNet18Options,
  type ResNet18Stage,
} from './resnet18.js';
export {
  importTorchResNet18,
  importTorchResNet18IntoBranches,
  resnet18TorchBindings,
  type ResNet18TorchOptions,
} from './torch-weights.js';
export {
  DEFAULT_FUSION_STAGES,
  fusedResNet18,
  resnet18SE,
  type FusedResNet18Options,
  type ResNet18SEOptions,
} from './fused.js';
