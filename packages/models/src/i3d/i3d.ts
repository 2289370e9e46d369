import * as tfl from '@tensorflow/tfjs-layers';
import { MMTM, SqueezeExcite, type MMTMArgs, type SqueezeExciteArgs } from '@mm/mmtm';
import { checkSeed, layerSeed } from '../seed.js';
import { SeededDropout } from './seeded-dropout.js';

/**
 * I3D (Carreira & Zisserman 2017): Inception-v1 inflated to 3-D, with the end points, channel
 * counts and padding of the common PyTorch port (`InceptionI3d`, piergiaj/pytorch-i3d), built
 * from tfjs-layers (channels-last NDHWC) so it trains on any backend.
 *
 * Faithfulness to the port, which matters for imported weights:
 * - Every convolution is a `Unit3D`: Conv3d without bias → BatchNorm3d(eps 1e-3, momentum 0.01)
 *   → ReLU, padded like TensorFlow's SAME (the extra row at the end). tfjs's `same` padding for
 *   conv3d is exactly that.
 * - The port's max pools pad with zeros before pooling; tfjs's `same` ignores padded cells.
 *   Every max pool here follows a ReLU (values ≥ 0), so both give the same maximum.
 * - Head: AvgPool3d([2, 7, 7], stride 1, no padding) → Dropout → 1×1×1 Conv3d with bias. The
 *   port returns these logits per time step, [batch, classes, time] (space squeezed away, which
 *   leaves [batch, classes, time, h, w] for frames over 224 px), and leaves reducing time to its
 *   callers; here they are averaged over time (and space) by default, as DeepMind's I3D does,
 *   and `perTimeLogits` gives the port's [batch, classes, time]. The port's AvgPool3d fails on
 *   maps smaller than [2, 7, 7] (fewer than 9 frames or frames under 193 px); here the window is
 *   clipped to the map instead (at 64×224×224 it is exactly [2, 7, 7] on an 8×7×7 map).
 *
 * Layer names are the port's module paths with `.` written as `_` (`Mixed_4c_b1b_conv3d`,
 * `Mixed_4c_b1b_bn`, `logits_conv3d`), behind an optional branch prefix (`m0_`, `m1_`).
 */

/** BatchNorm3d(eps=0.001, momentum=0.01) in the port; tfjs's momentum is the kept fraction. */
export const I3D_BATCH_NORM = { epsilon: 1e-3, momentum: 0.99 } as const;

/** The port's end points in order (before the logits). */
export const I3D_END_POINTS = [
  'Conv3d_1a_7x7',
  'MaxPool3d_2a_3x3',
  'Conv3d_2b_1x1',
  'Conv3d_2c_3x3',
  'MaxPool3d_3a_3x3',
  'Mixed_3b',
  'Mixed_3c',
  'MaxPool3d_4a_3x3',
  'Mixed_4b',
  'Mixed_4c',
  'Mixed_4d',
  'Mixed_4e',
  'Mixed_4f',
  'MaxPool3d_5a_2x2',
  'Mixed_5b',
  'Mixed_5c',
] as const;

export type I3DEndPoint = (typeof I3D_END_POINTS)[number];

/** Where the paper fuses the two I3D branches with MMTM: the six final inception modules. */
export const I3D_FUSION_POINTS: readonly I3DEndPoint[] = ['Mixed_4c', 'Mixed_4d', 'Mixed_4e', 'Mixed_4f', 'Mixed_5b', 'Mixed_5c'];

type Triple = [number, number, number];

/**
 * Inception module output channels, the port's `out_channels` list:
 * [b0 1×1, b1a 1×1, b1b 3×3, b2a 1×1, b2b 3×3, b3b 1×1 after the 3×3×3 max pool].
 */
const INCEPTION_CHANNELS: Readonly<Record<string, readonly number[]>> = {
  Mixed_3b: [64, 96, 128, 16, 32, 32],
  Mixed_3c: [128, 128, 192, 32, 96, 64],
  Mixed_4b: [192, 96, 208, 16, 48, 64],
  Mixed_4c: [160, 112, 224, 24, 64, 64],
  Mixed_4d: [128, 128, 256, 24, 64, 64],
  Mixed_4e: [112, 144, 288, 32, 64, 64],
  Mixed_4f: [256, 160, 320, 32, 128, 128],
  Mixed_5b: [256, 160, 320, 32, 128, 128],
  Mixed_5c: [384, 192, 384, 48, 128, 128],
};

const POOLS: Readonly<Record<string, { size: Triple; strides: Triple }>> = {
  MaxPool3d_2a_3x3: { size: [1, 3, 3], strides: [1, 2, 2] },
  MaxPool3d_3a_3x3: { size: [1, 3, 3], strides: [1, 2, 2] },
  MaxPool3d_4a_3x3: { size: [3, 3, 3], strides: [2, 2, 2] },
  MaxPool3d_5a_2x2: { size: [2, 2, 2], strides: [2, 2, 2] },
};

const UNITS: Readonly<Record<string, { filters: number; kernel: Triple; strides: Triple }>> = {
  Conv3d_1a_7x7: { filters: 64, kernel: [7, 7, 7], strides: [2, 2, 2] },
  Conv3d_2b_1x1: { filters: 64, kernel: [1, 1, 1], strides: [1, 1, 1] },
  Conv3d_2c_3x3: { filters: 192, kernel: [3, 3, 3], strides: [1, 1, 1] },
};

export interface I3DInputOptions {
  /** Frames per clip. Default 64. */
  frames?: number;
  /** Frame height and width: one number for square frames, or [height, width]. Default 224. */
  imageSize?: number | readonly [number, number];
}

export interface I3DOptions extends I3DInputOptions {
  /** Classes of the logits convolution. Default 400 (Kinetics). */
  numClasses?: number;
  /** Input channels: 3 for RGB, 1 for depth. Default 3. */
  inChannels?: number;
  /** Dropout before the logits (the port's `dropout_keep_prob` is 0.5, i.e. rate 0.5). Default 0.5. */
  dropoutRate?: number;
  /**
   * Output [batch, numClasses, time] logits, one per remaining time step, as the PyTorch port's
   * forward returns them, instead of their mean over time [batch, numClasses] (the default, as
   * DeepMind's I3D and what `@mm/balance` and `@mm/metrics` expect). Default false.
   */
  perTimeLogits?: boolean;
  /** Prefix of every layer name, e.g. `m0_`. Default ''. */
  namePrefix?: string;
  /**
   * Squeeze-and-excitation blocks after these end points (the paper's uni-modal baselines use
   * them where the fused network has MMTMs). Default none. A `seed` here gives every SE block
   * that one seed instead of one derived from the model's `seed`.
   */
  squeezeExcite?: { at?: readonly I3DEndPoint[] } & Omit<SqueezeExciteArgs, 'name'>;
  /**
   * Seeds every initialiser (each layer's seed derived from this and the layer name) and the
   * dropout masks, so two models built with the same seed start, and train, identically.
   * Default: unseeded (Math.random).
   */
  seed?: number;
  /** Model name. Default `${namePrefix}i3d`. */
  name?: string;
}

// PyTorch's default Conv3d initialisation (kaiming_uniform, a=√5): uniform in ±1/√fan_in.
const torchConvInitializer = (seed: number | undefined) =>
  tfl.initializers.varianceScaling({ scale: 1 / 3, mode: 'fanIn', distribution: 'uniform', seed });

function apply(layer: tfl.layers.Layer, x: tfl.SymbolicTensor | tfl.SymbolicTensor[]): tfl.SymbolicTensor {
  return layer.apply(x) as tfl.SymbolicTensor;
}

/** The port's Unit3D: conv (no bias) → BN → ReLU, TF-SAME padding. */
function unit3d(
  x: tfl.SymbolicTensor,
  filters: number,
  kernel: Triple,
  strides: Triple,
  name: string,
  seed: number | undefined,
): tfl.SymbolicTensor {
  const convName = `${name}_conv3d`;
  let y = apply(
    tfl.layers.conv3d({
      filters,
      kernelSize: kernel,
      strides,
      padding: 'same',
      useBias: false,
      kernelInitializer: torchConvInitializer(layerSeed(seed, `${convName}/kernel`)),
      name: convName,
    }),
    x,
  );
  y = batchNorm3d(y, `${name}_bn`);
  return apply(tfl.layers.activation({ activation: 'relu', name: `${name}_relu` }), y);
}

/**
 * BatchNorm over the channels of a 5-D map. tfjs-layers' BatchNormalization rejects rank-5
 * inputs, so the map is viewed as 4-D ([batch, frames·height, width, C]; a free reshape) around
 * it: per-channel statistics over all other axes are the same either way, and the layer stays a
 * plain BatchNormalization that savers and the PyTorch importer understand.
 */
function batchNorm3d(x: tfl.SymbolicTensor, name: string): tfl.SymbolicTensor {
  const [, t, h, w, c] = x.shape as number[];
  let y = apply(tfl.layers.reshape({ targetShape: [t * h, w, c], name: `${name}_as4d` }), x);
  y = apply(tfl.layers.batchNormalization({ axis: -1, ...I3D_BATCH_NORM, name }), y);
  return apply(tfl.layers.reshape({ targetShape: [t, h, w, c], name: `${name}_as5d` }), y);
}

function maxPool(x: tfl.SymbolicTensor, size: Triple, strides: Triple, name: string): tfl.SymbolicTensor {
  return apply(tfl.layers.maxPooling3d({ poolSize: size, strides, padding: 'same', name }), x);
}

function inception(x: tfl.SymbolicTensor, channels: readonly number[], name: string, seed: number | undefined): tfl.SymbolicTensor {
  const one: Triple = [1, 1, 1];
  const three: Triple = [3, 3, 3];
  const b0 = unit3d(x, channels[0], one, one, `${name}_b0`, seed);
  const b1 = unit3d(unit3d(x, channels[1], one, one, `${name}_b1a`, seed), channels[2], three, one, `${name}_b1b`, seed);
  const b2 = unit3d(unit3d(x, channels[3], one, one, `${name}_b2a`, seed), channels[4], three, one, `${name}_b2b`, seed);
  const b3 = unit3d(maxPool(x, three, one, `${name}_b3a`), channels[5], one, one, `${name}_b3b`, seed);
  return apply(tfl.layers.concatenate({ axis: -1, name: `${name}_concat` }), [b0, b1, b2, b3]);
}

/**
 * Applies one end point of the port to x (layer names `${namePrefix}${endPoint}_…`). `seed`: the
 * model's base seed (see `I3DOptions.seed`); undefined leaves the initialisers unseeded.
 */
export function i3dEndPoint(x: tfl.SymbolicTensor, endPoint: I3DEndPoint, namePrefix = '', seed?: number): tfl.SymbolicTensor {
  const name = `${namePrefix}${endPoint}`;
  const unit = UNITS[endPoint];
  if (unit) return unit3d(x, unit.filters, unit.kernel, unit.strides, name, seed);
  const pool = POOLS[endPoint];
  if (pool) return maxPool(x, pool.size, pool.strides, name);
  return inception(x, INCEPTION_CHANNELS[endPoint], name, seed);
}

/**
 * AvgPool3d([2, 7, 7], stride 1, valid; clipped to the map) → Dropout → 1×1×1 conv with bias →
 * mean over the remaining positions. Returns [batch, numClasses] logits, the mean over time (as
 * DeepMind's I3D) and, for frames over 224 px, over space too.
 * `perTimeLogits`: instead [batch, numClasses, time] as the PyTorch port's forward returns (the
 * mean over space only, where the port would keep space: it returns [batch, numClasses, time,
 * h, w] for frames over 224 px).
 * With a `seed` (the model's base seed) the initialisers are seeded and the dropout is a
 * `SeededDropout` whose masks are reproducible.
 */
export function i3dHead(
  x: tfl.SymbolicTensor,
  numClasses: number,
  namePrefix = '',
  dropoutRate = 0.5,
  seed?: number,
  perTimeLogits = false,
): tfl.SymbolicTensor {
  const [, t, h, w] = x.shape as number[];
  const poolSize: Triple = [Math.min(2, t), Math.min(7, h), Math.min(7, w)];
  let y = apply(tfl.layers.averagePooling3d({ poolSize, strides: 1, padding: 'valid', name: `${namePrefix}avg_pool` }), x);
  const dropoutName = `${namePrefix}dropout`;
  const dropoutSeed = layerSeed(seed, dropoutName);
  y = apply(
    dropoutSeed === undefined
      ? tfl.layers.dropout({ rate: dropoutRate, name: dropoutName })
      : new SeededDropout({ rate: dropoutRate, seed: dropoutSeed, name: dropoutName }),
    y,
  );
  const convName = `${namePrefix}logits_conv3d`;
  const bound = 1 / Math.sqrt(x.shape[4] as number);
  y = apply(
    tfl.layers.conv3d({
      filters: numClasses,
      kernelSize: 1,
      useBias: true,
      kernelInitializer: torchConvInitializer(layerSeed(seed, `${convName}/kernel`)),
      biasInitializer: tfl.initializers.randomUniform({ minval: -bound, maxval: bound, seed: layerSeed(seed, `${convName}/bias`) }),
      name: convName,
    }),
    y,
  );
  const [, t2, h2, w2] = y.shape as number[];
  if (!perTimeLogits) {
    y = apply(tfl.layers.reshape({ targetShape: [t2 * h2 * w2, numClasses], name: `${namePrefix}logits_positions` }), y);
    return apply(tfl.layers.globalAveragePooling1d({ name: `${namePrefix}logits` }), y);
  }
  if (h2 * w2 > 1) {
    y = apply(tfl.layers.averagePooling3d({ poolSize: [1, h2, w2], strides: [1, h2, w2], padding: 'valid', name: `${namePrefix}logits_space_mean` }), y);
  }
  y = apply(tfl.layers.reshape({ targetShape: [t2, numClasses], name: `${namePrefix}logits_per_time` }), y);
  return apply(tfl.layers.permute({ dims: [2, 1], name: `${namePrefix}logits` }), y);
}

export interface ResolvedClipShape {
  frames: number;
  height: number;
  width: number;
}

export function resolveClipShape(options: I3DInputOptions, who: string): ResolvedClipShape {
  const frames = options.frames ?? 64;
  const size = options.imageSize ?? 224;
  const [height, width] = typeof size === 'number' ? [size, size] : size;
  for (const [label, value] of [
    ['frames', frames],
    ['frame height', height],
    ['frame width', width],
  ] as const) {
    if (!Number.isInteger(value) || value < 1) throw new Error(`${who}: ${label} must be a positive integer, got ${value}`);
  }
  // Spatially five stride-2 reductions; in time, three. Smaller inputs run but collapse early.
  if (height < 32 || width < 32) throw new Error(`${who}: frames must be at least 32×32 (five stride-2 reductions), got ${height}×${width}`);
  return { frames, height, width };
}

function checkPositiveInteger(value: number, label: string, who: string): void {
  if (!Number.isInteger(value) || value < 1) throw new Error(`${who}: ${label} must be a positive integer, got ${value}`);
}

/** Features from the input up to and including Mixed_5c, with optional SE blocks. */
function i3dTrunk(input: tfl.SymbolicTensor, prefix: string, se: I3DOptions['squeezeExcite'], seed: number | undefined): tfl.SymbolicTensor {
  let x = input;
  const seAt = new Set<string>(se?.at ?? []);
  for (const endPoint of I3D_END_POINTS) {
    x = i3dEndPoint(x, endPoint, prefix, seed);
    if (seAt.has(endPoint)) {
      const { at: _at, ...args } = se ?? {};
      const name = `${prefix}se_${endPoint}`;
      x = apply(new SqueezeExcite({ ...args, seed: args.seed ?? layerSeed(seed, name), name }), x);
    }
  }
  return x;
}

/**
 * InceptionI3d as a single-input, single-output `tf.LayersModel`: input [batch, frames, height,
 * width, inChannels] (channels-last), output [batch, numClasses] logits (no softmax), or
 * [batch, numClasses, time] with `perTimeLogits`.
 * `i3d({ numClasses: 400, inChannels: 3 })` has the port's 12,697,264 trainable parameters.
 */
export function i3d(options: I3DOptions = {}): tfl.LayersModel {
  const who = 'i3d';
  const numClasses = options.numClasses ?? 400;
  const inChannels = options.inChannels ?? 3;
  checkPositiveInteger(numClasses, 'numClasses', who);
  checkPositiveInteger(inChannels, 'inChannels', who);
  checkSeed(options.seed, who);
  const { frames, height, width } = resolveClipShape(options, who);
  const prefix = options.namePrefix ?? '';
  const input = tfl.input({ shape: [frames, height, width, inChannels], name: `${prefix}input` });
  const features = i3dTrunk(input, prefix, options.squeezeExcite, options.seed);
  const logits = i3dHead(features, numClasses, prefix, options.dropoutRate ?? 0.5, options.seed, options.perTimeLogits);
  return tfl.model({ inputs: input, outputs: logits, name: options.name ?? `${prefix}i3d` });
}

/** The paper's uni-modal baseline: I3D with SE blocks where the fused network has MMTMs, layers prefixed `m0_`. */
export function i3dWithSqueezeExcite(options: Omit<I3DOptions, 'squeezeExcite' | 'namePrefix'> & { squeezeExcite?: Omit<SqueezeExciteArgs, 'name'> } = {}): tfl.LayersModel {
  return i3d({
    ...options,
    namePrefix: 'm0_',
    squeezeExcite: { ...options.squeezeExcite, at: I3D_FUSION_POINTS },
    name: options.name ?? 'i3d_se',
  });
}

export interface FusedI3DOptions extends I3DInputOptions {
  /** Classes of every head. Default 25 (NVGesture). */
  numClasses?: number;
  /** Input channels per modality; its length is the number of branches. Default [3, 1] (RGB, depth). */
  inChannels?: readonly number[];
  /** End points after which an MMTM joins the branches. Default the six final inception modules. */
  fuseAt?: readonly I3DEndPoint[];
  /**
   * Arguments of every MMTM (ratio, gateScale, …). A `seed` here gives every MMTM that one seed
   * instead of one derived from the model's `seed`.
   */
  mmtm?: Omit<MMTMArgs, 'name'>;
  dropoutRate?: number;
  /** Every head outputs [batch, numClasses, time] (see `I3DOptions.perTimeLogits`). Default false. */
  perTimeLogits?: boolean;
  /**
   * Seeds every initialiser (branches, MMTMs, heads; per layer from this and the layer name, so
   * the branches differ) and the dropout masks. Default: unseeded (Math.random).
   */
  seed?: number;
  /** Model name. Default `i3d_mmtm`. */
  name?: string;
}

/**
 * K I3D branches joined by MMTMs (the paper's NVGesture network): inputs `[x_m0, x_m1, …]`, one
 * logits head per branch, outputs `[logits_m0, logits_m1, …]` (the prediction is their mean,
 * taken by the caller). Branch layers are prefixed `m{k}_`, fusion layers named
 * `mmtm_<end point>`, which is what `@mm/balance` derives its parameter groups from.
 */
export function fusedI3D(options: FusedI3DOptions = {}): tfl.LayersModel {
  const who = 'fusedI3D';
  const numClasses = options.numClasses ?? 25;
  checkPositiveInteger(numClasses, 'numClasses', who);
  const inChannels = options.inChannels ?? [3, 1];
  if (inChannels.length < 2) throw new Error(`${who}: needs at least two modalities (inChannels), got ${inChannels.length}`);
  inChannels.forEach((c, k) => checkPositiveInteger(c, `inChannels[${k}]`, who));
  const fuseAt = new Set<string>(options.fuseAt ?? I3D_FUSION_POINTS);
  for (const point of fuseAt) {
    if (!(I3D_END_POINTS as readonly string[]).includes(point)) {
      throw new Error(`${who}: unknown fusion point ${point}; use one of ${I3D_END_POINTS.join(', ')}`);
    }
  }
  checkSeed(options.seed, who);
  const seed = options.seed;
  const { frames, height, width } = resolveClipShape(options, who);
  const inputs = inChannels.map((c, k) => tfl.input({ shape: [frames, height, width, c], name: `x_m${k}` }));
  let maps: tfl.SymbolicTensor[] = inputs;
  for (const endPoint of I3D_END_POINTS) {
    maps = maps.map((x, k) => i3dEndPoint(x, endPoint, `m${k}_`, seed));
    if (fuseAt.has(endPoint)) {
      const name = `mmtm_${endPoint}`;
      maps = new MMTM({ ...options.mmtm, seed: options.mmtm?.seed ?? layerSeed(seed, name), name }).apply(maps) as tfl.SymbolicTensor[];
    }
  }
  const heads = maps.map((x, k) => i3dHead(x, numClasses, `m${k}_`, options.dropoutRate ?? 0.5, seed, options.perTimeLogits));
  return tfl.model({ inputs, outputs: heads, name: options.name ?? 'i3d_mmtm' });
}
