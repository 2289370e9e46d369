import * as tfl from '@tensorflow/tfjs-layers';
import { MMTM, SqueezeExcite, type MMTMArgs, type SqueezeExciteArgs } from '@mm/mmtm';
import {
  checkNumClasses,
  resnet18Head,
  resnet18Stage,
  resnet18Stem,
  resolveImageOptions,
  type ResNet18Stage,
} from './resnet18.js';
import { checkSeed, layerSeed } from '../seed.js';

/** Where the reference fuses the ModelNet40 views: after layer2, layer3 and layer4 (128, 256, 512 channels). */
export const DEFAULT_FUSION_STAGES: readonly ResNet18Stage[] = [2, 3, 4];

export interface FusedResNet18Options {
  /** Number of views (modalities), one ResNet18 branch each. Default 2 (front and rear). */
  numViews?: number;
  /** Classes of each view's head. Default 40 (ModelNet40). */
  numClasses?: number;
  /** Input height and width: one number or [height, width]. Default 224. */
  imageSize?: number | readonly [number, number];
  /** Input channels. Default 3. */
  channels?: number;
  /**
   * MMTM settings: ratio (default 4, as the reference), gateScale (`@mm/mmtm`'s default 2 is the
   * paper's 2·σ; 1 is the reference code's plain σ), rebalanceStatistic, seed (if given, every
   * MMTM gets this one seed instead of one derived from `seed`).
   */
  mmtm?: Omit<MMTMArgs, 'name'>;
  /**
   * Seeds every initialiser (branches, MMTMs, heads): each layer's seed is derived from this and
   * the layer name, so the same seed gives the same weights and the branches differ from each
   * other. Default: unseeded (Math.random).
   */
  seed?: number;
  /** Stages after which an MMTM joins the branches. Default [2, 3, 4]. */
  fusionStages?: readonly ResNet18Stage[];
  /** Model name. Default `fused_resnet18`. */
  name?: string;
}

function checkStages(stages: readonly ResNet18Stage[], who: string): void {
  for (const stage of stages) {
    if (![1, 2, 3, 4].includes(stage)) throw new Error(`${who}: fusion stages must be among 1, 2, 3, 4; got ${stage}`);
  }
}

/**
 * The ModelNet40 multi-view network of the paper: one torchvision ResNet18 per view, an MMTM
 * across all views after each fusion stage, one Dense head per view.
 *
 * Naming follows the `@mm/balance` convention: inputs `x_m0, x_m1, …`; every layer of view k's
 * branch, its head included, starts with `m{k}_` (`m1_layer3_0_conv1`, head `m0_fc`); the fusion
 * layers are `mmtm_layer2`, `mmtm_layer3`, `mmtm_layer4`. Outputs are the heads' logits in view
 * order; the prediction is their mean and the loss the sum of the per-head cross-entropies, as
 * in the reference. Each branch accepts torchvision weights through `importTorchResNet18` with
 * `namePrefix: 'm{k}_'`.
 */
export function fusedResNet18(options: FusedResNet18Options = {}): tfl.LayersModel {
  const who = 'fusedResNet18';
  const numViews = options.numViews ?? 2;
  if (!Number.isInteger(numViews) || numViews < 2) {
    throw new Error(`${who}: numViews must be an integer ≥ 2 (use resnet18 or resnet18SE for one view), got ${numViews}`);
  }
  const numClasses = options.numClasses ?? 40;
  checkNumClasses(numClasses, who);
  const { height, width, channels } = resolveImageOptions(options);
  const fusionStages = options.fusionStages ?? DEFAULT_FUSION_STAGES;
  checkStages(fusionStages, who);
  checkSeed(options.seed, who);
  const seed = options.seed;

  const views = Array.from({ length: numViews }, (_, k) => k);
  const inputs = views.map((k) => tfl.input({ shape: [height, width, channels], name: `x_m${k}` }));
  let features = views.map((k) => resnet18Stem(inputs[k], `m${k}_`, seed));
  for (const stage of [1, 2, 3, 4] as const) {
    features = views.map((k) => resnet18Stage(features[k], stage, `m${k}_`, seed));
    if (fusionStages.includes(stage)) {
      const name = `mmtm_layer${stage}`;
      const mmtm = new MMTM({ ratio: 4, ...options.mmtm, seed: options.mmtm?.seed ?? layerSeed(seed, name), name });
      features = mmtm.apply(features) as tfl.SymbolicTensor[];
    }
  }
  const outputs = views.map((k) => resnet18Head(features[k], numClasses, `m${k}_`, seed));
  return tfl.model({ inputs, outputs, name: options.name ?? 'fused_resnet18' });
}

export interface ResNet18SEOptions {
  /** Classes of the head. Default 40 (ModelNet40). */
  numClasses?: number;
  imageSize?: number | readonly [number, number];
  channels?: number;
  /**
   * SE settings: ratio (default 4, like the fused network's MMTMs), gateScale, seed (if given,
   * every SE block gets this one seed instead of one derived from `seed`).
   */
  se?: Omit<SqueezeExciteArgs, 'name'>;
  /** Stages followed by an SE block. Default [2, 3, 4], where the fused network has its MMTMs. */
  seStages?: readonly ResNet18Stage[];
  /** Seeds every initialiser, per layer from this and the layer name. Default: unseeded. */
  seed?: number;
  name?: string;
}

/**
 * The uni-modal baseline: one ResNet18 with a squeeze-and-excitation block where the fused
 * network has its MMTMs, so both have the same kind of channel gating. Single input, single
 * output; every layer starts with `m0_` (the SE blocks are `m0_se_layer2`, …).
 */
export function resnet18SE(options: ResNet18SEOptions = {}): tfl.LayersModel {
  const who = 'resnet18SE';
  const numClasses = options.numClasses ?? 40;
  checkNumClasses(numClasses, who);
  const { height, width, channels } = resolveImageOptions(options);
  const seStages = options.seStages ?? DEFAULT_FUSION_STAGES;
  checkStages(seStages, who);
  checkSeed(options.seed, who);
  const seed = options.seed;
  const prefix = 'm0_';
  const input = tfl.input({ shape: [height, width, channels], name: 'x_m0' });
  let x = resnet18Stem(input, prefix, seed);
  for (const stage of [1, 2, 3, 4] as const) {
    x = resnet18Stage(x, stage, prefix, seed);
    if (seStages.includes(stage)) {
      const name = `${prefix}se_layer${stage}`;
      const se = new SqueezeExcite({ ratio: 4, ...options.se, seed: options.se?.seed ?? layerSeed(seed, name), name });
      x = se.apply(x) as tfl.SymbolicTensor;
    }
  }
  const logits = resnet18Head(x, numClasses, prefix, seed);
  return tfl.model({ inputs: input, outputs: logits, name: options.name ?? 'resnet18_se' });
}
