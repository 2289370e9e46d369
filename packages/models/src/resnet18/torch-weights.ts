import type * as tfl from '@tensorflow/tfjs-layers';
import type { SafetensorsFile } from '../weights/safetensors.js';
import {
  importTorchStateDict,
  torchBindingsFromLayers,
  underscoreToDot,
  type ImportTorchReport,
  type TorchWeightBinding,
} from '../weights/torch-import.js';

export interface ResNet18TorchOptions {
  /** Layer-name prefix of the branch to fill: '' for `resnet18()`, `m{k}_` for view k of a fused network. */
  namePrefix?: string;
  /** Prefix of the branch's names in the state dict (`module.`, `net_view_0.`). Default ''. */
  torchPrefix?: string;
  /**
   * Leave the `fc` head alone and ignore `fc.*` in the file: ImageNet weights (1000 classes) into a
   * 40-class network keep the freshly initialised head. Default false.
   */
  skipHead?: boolean;
  /** For messages (a file path). */
  source?: string;
}

/** The bindings between a ResNet18 branch (plain, fused or SE) and torchvision's state-dict names. */
export function resnet18TorchBindings(model: tfl.LayersModel, options: ResNet18TorchOptions = {}): TorchWeightBinding[] {
  return torchBindingsFromLayers(model, {
    namePrefix: options.namePrefix ?? '',
    torchPrefix: options.torchPrefix ?? '',
    moduleName: (layerName) => {
      // SE blocks are not part of torchvision's ResNet18: they keep their initialisation.
      if (layerName.startsWith('se_')) return null;
      if (options.skipHead && layerName === 'fc') return null;
      return underscoreToDot(layerName);
    },
  });
}

/**
 * Loads a torchvision ResNet18 `state_dict` (e.g. `resnet18(weights="IMAGENET1K_V1").state_dict()`
 * saved with safetensors) into a ResNet18 built here. Nothing is written unless every tensor is
 * present with the right shape; otherwise one error lists every missing, unexpected and
 * mis-shaped tensor.
 */
export function importTorchResNet18(
  model: tfl.LayersModel,
  stateDict: SafetensorsFile,
  options: ResNet18TorchOptions = {},
): ImportTorchReport {
  const torchPrefix = options.torchPrefix ?? '';
  const bindings = resnet18TorchBindings(model, options);
  return importTorchStateDict(stateDict, bindings, {
    scope: torchPrefix === '' ? undefined : torchPrefix,
    ignoreUnexpected: options.skipHead ? (name) => name.startsWith(`${torchPrefix}fc.`) : undefined,
    source: options.source,
  });
}

/**
 * Loads the same torchvision weights (ImageNet-pretrained, typically) into every branch
 * `m0_ … m{K−1}_` of a fused network. The MMTM layers keep their initialisation.
 */
export function importTorchResNet18IntoBranches(
  model: tfl.LayersModel,
  stateDict: SafetensorsFile,
  options: Omit<ResNet18TorchOptions, 'namePrefix'> & { numViews?: number } = {},
): ImportTorchReport[] {
  const numViews = options.numViews ?? model.inputs.length;
  return Array.from({ length: numViews }, (_, k) => importTorchResNet18(model, stateDict, { ...options, namePrefix: `m${k}_` }));
}
