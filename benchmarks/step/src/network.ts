import type * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { cgMnistFusedNet, CG_MNIST_DEFAULT_WIDTHS, CG_MNIST_FUSION_BLOCKS, CG_MNIST_INPUT_CHANNELS } from '@mm/models';
import { fusionLayersOf } from '@mm/mmtm';

/**
 * The network timed by bench:step is the project's own CG-MNIST net from `@mm/models`, the
 * twin of `../shared/bench/torch_twin.py` (same layers, 284,820 trainable parameters):
 *
 *   block1: conv3x3(16)  → BN → ReLU → maxpool2   (28 → 14)
 *   block2: conv3x3(32)  → BN → ReLU → maxpool2   (14 → 7)  → MMTM
 *   block3: conv3x3(64)  → BN → ReLU              (7)       → MMTM
 *   block4: conv3x3(128) → BN → ReLU              (7)       → MMTM
 *   global average pool → dense(10) per branch
 */

export const IMAGE_SIZE = 28;
export const CLASSES = 10;
export const WIDTHS = CG_MNIST_DEFAULT_WIDTHS;
export const MMTM_RATIO = 4;
export const FUSED_BLOCKS = CG_MNIST_FUSION_BLOCKS;
export const INPUT_CHANNELS = CG_MNIST_INPUT_CHANNELS;

/** `fused: false` drops the MMTM modules (late fusion, torch_twin's unimodal mode). Seeded, so replicas start identical. */
export function buildNetwork(fused = true): tfl.LayersModel {
  return cgMnistFusedNet({ fusion: fused ? 'mmtm' : 'none', seed: 1 });
}

/** Parameter groups of the learning-speed bookkeeping, as torch_twin's `speed_terms`. */
export type GroupName = 'theta0' | 'theta1' | 'fusion0' | 'fusion1';

/**
 * θ_k: every trainable weight of a layer named `m{k}_…`; θ'_k: the weights each fusion layer
 * reports on the path to head k (the shared squeeze and excitation k, so the squeeze is in both).
 */
export function parameterGroups(model: tfl.LayersModel): Record<GroupName, tf.Variable[]> {
  const groups: Record<GroupName, tf.Variable[]> = { theta0: [], theta1: [], fusion0: [], fusion1: [] };
  const byName = new Map(model.trainableWeights.map((w) => [w.name, w.read() as tf.Variable]));
  for (const layer of model.layers) {
    const variables = layer.trainableWeights.map((w) => w.read() as tf.Variable);
    if (layer.name.startsWith('m0_')) groups.theta0.push(...variables);
    else if (layer.name.startsWith('m1_')) groups.theta1.push(...variables);
  }
  for (const fusion of fusionLayersOf(model)) {
    for (const [k, group] of [groups.fusion0, groups.fusion1].entries()) {
      for (const name of fusion.fusionWeightNames(k)) {
        const variable = byName.get(name);
        if (variable === undefined) throw new Error(`fusion layer ${fusion.name} names weight ${name}, which the model does not train`);
        group.push(variable);
      }
    }
  }
  return groups;
}
