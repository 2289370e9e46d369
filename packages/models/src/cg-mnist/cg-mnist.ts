import * as tfl from '@tensorflow/tfjs-layers';
import { MMTM, SqueezeExcite } from '@mm/mmtm';
import type { RebalanceStatistic } from '@mm/mmtm';

/**
 * The Colored-and-gray-MNIST network of Wu et al. 2022 (its PyTorch twin, after the reference
 * code's model, is the repository's `benchmarks/step/torch/torch_twin.py`). Per branch:
 *
 *   block1: conv3×3(w0, same) → BN → ReLU → maxpool 2   (28 → 14)
 *   block2: conv3×3(w1, same) → BN → ReLU → maxpool 2   (14 → 7)    → MMTM
 *   block3: conv3×3(w2, same) → BN → ReLU               (7)         → MMTM
 *   block4: conv3×3(w3, same) → BN → ReLU               (7)         → MMTM
 *   global average pool → Dense(numClasses)
 *
 * Weights start as PyTorch's defaults (Conv2d and Linear: kernel and bias uniform in
 * ±1/√fan_in; BatchNorm γ = 1, β = 0, eps 1e-5, running-stat momentum 0.1) so training
 * behaves like the reference at the same learning rate.
 */

export const CG_MNIST_DEFAULT_WIDTHS = [16, 32, 64, 128] as const;
/** Blocks followed by a 2×2 max pool. */
const POOLED_BLOCKS = [1, 2];
/** Blocks followed by a fusion module (MMTM in the fused net, SE in the uni-modal one). */
export const CG_MNIST_FUSION_BLOCKS = [2, 3, 4] as const;
/** Input channels of m0 (colored image) and m1 (gray image). */
export const CG_MNIST_INPUT_CHANNELS = [3, 1] as const;

// PyTorch BatchNorm2d defaults; tfjs's momentum weighs the old running value, PyTorch's the new one.
const TORCH_BATCH_NORM = { epsilon: 1e-5, momentum: 0.9 } as const;

export interface CgMnistCommonOptions {
  /** Channels of blocks 1–4. Default [16, 32, 64, 128]. */
  widths?: readonly [number, number, number, number];
  /** Classes of each head. Default 10. */
  numClasses?: number;
  /** Input height = width. Default 28. */
  imageSize?: number;
  /** Bottleneck ratio of the MMTM / SE blocks (hidden = int(2·ΣC/ratio)). Default 4. */
  ratio?: number;
  /** Gate = gateScale·σ(w). Default 2 (paper Eq. 2); 1 is the reference code's plain σ. */
  gateScale?: number;
  /**
   * Seeds every weight initialiser (each layer gets its own stream), so two models built with
   * the same seed start identical. Default: unseeded (Math.random).
   */
  seed?: number;
  /** Model name. */
  name?: string;
}

export type CgMnistFusion = 'mmtm' | 'none' | 'concat' | 'sum' | 'shared-head';
const FUSIONS: readonly CgMnistFusion[] = ['mmtm', 'none', 'concat', 'sum', 'shared-head'];

export interface CgMnistFusedNetOptions extends CgMnistCommonOptions {
  /**
   * How the two branches meet:
   * - 'mmtm' (default): MMTM after blocks 2, 3, 4, one head per branch (the paper's net);
   * - 'none': two independent branches, one head each, whose only interaction is the averaged
   *   prediction, a control for the fused net;
   * - 'concat' / 'sum': late fusion, the branches' pooled features concatenated (or summed) into
   *   one head `fusion_head` (the common multi-modal classifier; one output);
   * - 'shared-head': one head `shared_head` applied to each branch's pooled features (one output
   *   per branch, as MLA trains).
   */
  fusion?: CgMnistFusion;
  /**
   * Input channels per modality. Default [3, 1] (colored, gray). [1, 1] or [3, 3] build the
   * identical-modality networks of the paper's §6.2 ((gray, gray), (colored, colored)).
   */
  inputChannels?: readonly [number, number];
  /** MMTM statistic used by re-balancing steps (see `@mm/mmtm`). Default 'excitation'. */
  rebalanceStatistic?: RebalanceStatistic;
}

export interface CgMnistUnimodalNetOptions extends CgMnistCommonOptions {
  /** 0: the colored image (3 channels), 1: the gray image (1 channel). */
  modality: 0 | 1;
  /** Input channels; default from `modality`. */
  inputChannels?: number;
  /** SE blocks after blocks 2, 3, 4 (default true), the uni-modal counterpart of the MMTMs. */
  squeezeExcite?: boolean;
}

interface ResolvedOptions {
  widths: readonly number[];
  numClasses: number;
  imageSize: number;
  ratio: number;
  gateScale: number;
  nextSeed: () => number | undefined;
}

function resolveCommon(options: CgMnistCommonOptions, who: string): ResolvedOptions {
  const widths = options.widths ?? CG_MNIST_DEFAULT_WIDTHS;
  if (widths.length !== 4 || widths.some((w) => !Number.isInteger(w) || w < 1)) {
    throw new Error(`${who}: widths must be four positive integers (channels of blocks 1–4), got ${JSON.stringify(widths)}`);
  }
  const numClasses = options.numClasses ?? 10;
  if (!Number.isInteger(numClasses) || numClasses < 2) {
    throw new Error(`${who}: numClasses must be an integer ≥ 2, got ${numClasses}`);
  }
  const imageSize = options.imageSize ?? 28;
  if (!Number.isInteger(imageSize) || imageSize < 4) {
    throw new Error(`${who}: imageSize must be an integer ≥ 4 (two 2×2 poolings), got ${imageSize}`);
  }
  const ratio = options.ratio ?? 4;
  const gateScale = options.gateScale ?? 2;
  if (!(ratio > 0) || !(gateScale > 0)) {
    throw new Error(`${who}: ratio and gateScale must be positive, got ratio ${ratio}, gateScale ${gateScale}`);
  }
  // One seed per initialiser; successive seeds far apart so alea streams do not overlap in practice.
  let counter = 0;
  const base = options.seed;
  const nextSeed = () => (base === undefined ? undefined : base * 7919 + 104729 * ++counter);
  return { widths, numClasses, imageSize, ratio, gateScale, nextSeed };
}

function checkChannels(channels: number, who: string): void {
  if (!Number.isInteger(channels) || channels < 1) {
    throw new Error(`${who}: input channels must be a positive integer, got ${channels}`);
  }
}

const apply = (layer: tfl.layers.Layer, x: tfl.SymbolicTensor | tfl.SymbolicTensor[]) =>
  layer.apply(x) as tfl.SymbolicTensor;

/** PyTorch's default Conv2d / Linear initialisation: uniform in ±1/√fan_in for kernel and bias. */
function torchUniform(fanIn: number, seed: number | undefined) {
  const bound = 1 / Math.sqrt(fanIn);
  return tfl.initializers.randomUniform({ minval: -bound, maxval: bound, seed });
}

/** conv3×3 (same) → BN → ReLU [→ maxpool 2], layers `${prefix}block${b}_{conv,bn,relu,pool}`. */
function convBlock(
  x: tfl.SymbolicTensor,
  block: number,
  filters: number,
  prefix: string,
  o: ResolvedOptions,
): tfl.SymbolicTensor {
  const inChannels = x.shape[x.shape.length - 1] as number;
  const fanIn = inChannels * 9;
  const name = `${prefix}block${block}`;
  let y = apply(
    tfl.layers.conv2d({
      filters,
      kernelSize: 3,
      padding: 'same',
      kernelInitializer: torchUniform(fanIn, o.nextSeed()),
      biasInitializer: torchUniform(fanIn, o.nextSeed()),
      name: `${name}_conv`,
    }),
    x,
  );
  y = apply(tfl.layers.batchNormalization({ axis: -1, ...TORCH_BATCH_NORM, name: `${name}_bn` }), y);
  y = apply(tfl.layers.activation({ activation: 'relu', name: `${name}_relu` }), y);
  if (POOLED_BLOCKS.includes(block)) {
    y = apply(tfl.layers.maxPooling2d({ poolSize: 2, strides: 2, name: `${name}_pool` }), y);
  }
  return y;
}

/** Global average pool → Dense(numClasses): layers `${prefix}gap`, `${prefix}head`. */
function head(x: tfl.SymbolicTensor, prefix: string, o: ResolvedOptions): tfl.SymbolicTensor {
  const pooled = apply(tfl.layers.globalAveragePooling2d({ name: `${prefix}gap` }), x);
  const fanIn = pooled.shape[1] as number;
  return apply(
    tfl.layers.dense({
      units: o.numClasses,
      kernelInitializer: torchUniform(fanIn, o.nextSeed()),
      biasInitializer: torchUniform(fanIn, o.nextSeed()),
      name: `${prefix}head`,
    }),
    pooled,
  );
}

/** Dense(numClasses) with PyTorch's default initialisation, `name`. */
function classifier(fanIn: number, name: string, o: ResolvedOptions): tfl.layers.Layer {
  return tfl.layers.dense({ units: o.numClasses, kernelInitializer: torchUniform(fanIn, o.nextSeed()), biasInitializer: torchUniform(fanIn, o.nextSeed()), name });
}

/**
 * The fused two-branch network: inputs [x_m0 (28×28×3 colored), x_m1 (28×28×1 gray)],
 * outputs [logits_m0, logits_m1] (one head per modality; the prediction is their mean, the
 * loss the sum of the two cross-entropies, both computed by the caller).
 *
 * Names follow the `@mm/balance` convention: branch k's layers, head included, start with
 * `m{k}_` (`m0_block1_conv`, `m1_block3_bn`, `m0_head`); the fusion layers are `mmtm_block2`,
 * `mmtm_block3`, `mmtm_block4`. With the default widths it has 284,820 trainable parameters,
 * exactly as many as the PyTorch twin.
 */
export function cgMnistFusedNet(options: CgMnistFusedNetOptions = {}): tfl.LayersModel {
  const who = 'cgMnistFusedNet';
  const o = resolveCommon(options, who);
  const fusion = options.fusion ?? 'mmtm';
  if (!FUSIONS.includes(fusion)) {
    throw new Error(`${who}: fusion must be one of ${FUSIONS.join(', ')}, got ${String(fusion)}`);
  }
  const inputChannels = options.inputChannels ?? CG_MNIST_INPUT_CHANNELS;
  if (inputChannels.length !== 2) {
    throw new Error(`${who}: inputChannels must list the channels of the two modalities, got ${JSON.stringify(inputChannels)}`);
  }
  inputChannels.forEach((c) => checkChannels(c, who));

  const modalities = [0, 1];
  const inputs = modalities.map((k) => tfl.input({ shape: [o.imageSize, o.imageSize, inputChannels[k]], name: `x_m${k}` }));
  let features = inputs;
  for (let block = 1; block <= 4; block++) {
    features = modalities.map((k) => convBlock(features[k], block, o.widths[block - 1], `m${k}_`, o));
    if (fusion === 'mmtm' && (CG_MNIST_FUSION_BLOCKS as readonly number[]).includes(block)) {
      const mmtm = new MMTM({
        ratio: o.ratio,
        gateScale: o.gateScale,
        rebalanceStatistic: options.rebalanceStatistic,
        seed: o.nextSeed(),
        name: `mmtm_block${block}`,
      });
      features = mmtm.apply(features) as tfl.SymbolicTensor[];
    }
  }
  const name = options.name ?? `cg_mnist_${fusion === 'none' ? 'late' : fusion.replace('-', '_')}`;
  if (fusion === 'mmtm' || fusion === 'none') return tfl.model({ inputs, outputs: modalities.map((k) => head(features[k], `m${k}_`, o)), name });
  const pooled = modalities.map((k) => apply(tfl.layers.globalAveragePooling2d({ name: `m${k}_gap` }), features[k]));
  const width = o.widths[3];
  if (fusion === 'shared-head') {
    const shared = classifier(width, 'shared_head', o);
    return tfl.model({ inputs, outputs: pooled.map((h) => apply(shared, h)), name });
  }
  const merged = apply(fusion === 'concat' ? tfl.layers.concatenate({ name: 'fusion_concat' }) : tfl.layers.add({ name: 'fusion_sum' }), pooled);
  return tfl.model({ inputs, outputs: apply(classifier(fusion === 'concat' ? 2 * width : width, 'fusion_head', o), merged), name });
}

/**
 * The uni-modal baseline of Table 1: one branch of the fused net on one modality, with a
 * squeeze-and-excitation block where the fused net has its MMTMs (after blocks 2, 3, 4), so
 * both have the same kind of channel gating. Single input `x_m0`, single output; every layer
 * starts with `m0_` whatever the modality (SE blocks `m0_se_block2`, …), as the convention for
 * uni-modal models asks.
 */
export function cgMnistUnimodalNet(options: CgMnistUnimodalNetOptions): tfl.LayersModel {
  const who = 'cgMnistUnimodalNet';
  if (options?.modality !== 0 && options?.modality !== 1) {
    throw new Error(`${who}: modality must be 0 (colored image) or 1 (gray image), got ${String(options?.modality)}`);
  }
  const o = resolveCommon(options, who);
  const channels = options.inputChannels ?? CG_MNIST_INPUT_CHANNELS[options.modality];
  checkChannels(channels, who);
  const prefix = 'm0_';
  const input = tfl.input({ shape: [o.imageSize, o.imageSize, channels], name: 'x_m0' });
  let x = input;
  for (let block = 1; block <= 4; block++) {
    x = convBlock(x, block, o.widths[block - 1], prefix, o);
    if ((options.squeezeExcite ?? true) && (CG_MNIST_FUSION_BLOCKS as readonly number[]).includes(block)) {
      const se = new SqueezeExcite({ ratio: o.ratio, gateScale: o.gateScale, seed: o.nextSeed(), name: `${prefix}se_block${block}` });
      x = apply(se, x);
    }
  }
  const logits = head(x, prefix, o);
  return tfl.model({
    inputs: input,
    outputs: logits,
    name: options.name ?? `cg_mnist_unimodal_${options.modality === 0 ? 'colored' : 'gray'}`,
  });
}
