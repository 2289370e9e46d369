import * as tfl from '@tensorflow/tfjs-layers';
import { checkSeed, layerSeed } from '../seed.js';

/**
 * ResNet18 with torchvision's topology, built from tfjs-layers so it trains on any backend.
 *
 * Layer names follow torchvision's module paths with `.` replaced by `_` (`conv1`, `bn1`,
 * `layer2_0_downsample_0`, `fc`), so a PyTorch `state_dict` maps onto them one to one (see
 * `importTorchResNet18`). An optional prefix (`m0_`, `m1_`, …) marks a branch of a fused
 * multi-modal network, as `@mm/balance` derives parameter groups from that prefix.
 *
 * Padding: PyTorch pads a stride-2 convolution symmetrically (7×7 pad 3, 3×3 pad 1), while
 * tfjs's `same` padding puts the extra row and column at the end only. The stride-2 layers
 * therefore use an explicit `zeroPadding2d` followed by a `valid` convolution, which is what
 * makes imported ImageNet weights give PyTorch's logits. Stride-1 3×3 `same` is already
 * symmetric. The stem max pool is padded with zeros instead of −∞; it follows a ReLU, so every
 * value is ≥ 0 and the result is the same.
 */

/** torchvision's BatchNorm2d defaults: eps 1e-5, running-stat momentum 0.1 (tfjs counts the other way). */
export const TORCH_BATCH_NORM = { epsilon: 1e-5, momentum: 0.9 } as const;

/** Output channels of layer1…layer4. */
export const RESNET18_STAGE_CHANNELS = [64, 128, 256, 512] as const;

export type ResNet18Stage = 1 | 2 | 3 | 4;

export interface ResNet18Options {
  /** Classes of the final Dense layer (`fc`). Default 1000 (ImageNet). */
  numClasses?: number;
  /** Input height and width: one number for a square image, or [height, width]. Default 224. */
  imageSize?: number | readonly [number, number];
  /** Input channels. Default 3. */
  channels?: number;
  /** Prefix of every layer name, e.g. `m0_` for the first branch of a fused network. Default ''. */
  namePrefix?: string;
  /**
   * Seeds every initialiser: each layer's seed is derived from this and the layer name, so two
   * models built with the same seed start identical. Default: unseeded (Math.random).
   */
  seed?: number;
  /** Model name. Default `resnet18`. */
  name?: string;
}

/**
 * torchvision's ResNet initialises every convolution with kaiming_normal_(mode='fan_out',
 * nonlinearity='relu'): an untruncated normal of std √2/√fan_out, fan_out = filters·k·k. tfjs's
 * varianceScaling({ distribution: 'normal' }) is not that: it cuts the normal at ±2σ without
 * rescaling, so its std is 0.88 of the target and no weight lies beyond 2σ. Hence a plain
 * randomNormal with the std computed here.
 */
function torchvisionConvInitializer(filters: number, kernelSize: number, seed: number | undefined) {
  const fanOut = filters * kernelSize * kernelSize;
  return tfl.initializers.randomNormal({ mean: 0, stddev: Math.SQRT2 / Math.sqrt(fanOut), seed });
}

function applyLayer(layer: tfl.layers.Layer, x: tfl.SymbolicTensor | tfl.SymbolicTensor[]): tfl.SymbolicTensor {
  return layer.apply(x) as tfl.SymbolicTensor;
}

/** Convolution without bias, padded like PyTorch's `padding=kernelSize//2` (or 0 for 1×1). */
function torchConv(
  x: tfl.SymbolicTensor,
  filters: number,
  kernelSize: number,
  strides: number,
  name: string,
  seed: number | undefined,
): tfl.SymbolicTensor {
  const pad = Math.floor(kernelSize / 2);
  let input = x;
  let padding: 'same' | 'valid' = 'valid';
  if (pad > 0 && strides === 1) {
    padding = 'same';
  } else if (pad > 0) {
    input = applyLayer(tfl.layers.zeroPadding2d({ padding: [[pad, pad], [pad, pad]], name: `${name}_pad` }), x);
  }
  return applyLayer(
    tfl.layers.conv2d({
      filters,
      kernelSize,
      strides,
      padding,
      useBias: false,
      kernelInitializer: torchvisionConvInitializer(filters, kernelSize, layerSeed(seed, `${name}/kernel`)),
      name,
    }),
    input,
  );
}

function batchNorm(x: tfl.SymbolicTensor, name: string): tfl.SymbolicTensor {
  return applyLayer(tfl.layers.batchNormalization({ axis: -1, ...TORCH_BATCH_NORM, name }), x);
}

function relu(x: tfl.SymbolicTensor, name: string): tfl.SymbolicTensor {
  return applyLayer(tfl.layers.activation({ activation: 'relu', name }), x);
}

/**
 * conv1 → bn1 → relu → maxpool: 1/4 of the input resolution, 64 channels. `seed`: the model's
 * base seed (see `ResNet18Options.seed`); undefined leaves the initialisers unseeded.
 */
export function resnet18Stem(x: tfl.SymbolicTensor, namePrefix = '', seed?: number): tfl.SymbolicTensor {
  const p = namePrefix;
  let y = torchConv(x, 64, 7, 2, `${p}conv1`, seed);
  y = batchNorm(y, `${p}bn1`);
  y = relu(y, `${p}relu`);
  y = applyLayer(tfl.layers.zeroPadding2d({ padding: [[1, 1], [1, 1]], name: `${p}maxpool_pad` }), y);
  return applyLayer(tfl.layers.maxPooling2d({ poolSize: 3, strides: 2, padding: 'valid', name: `${p}maxpool` }), y);
}

/** torchvision BasicBlock: two 3×3 convolutions, projection shortcut when the shape changes. */
function basicBlock(x: tfl.SymbolicTensor, filters: number, strides: number, name: string, seed: number | undefined): tfl.SymbolicTensor {
  const inChannels = x.shape[x.shape.length - 1];
  let y = torchConv(x, filters, 3, strides, `${name}_conv1`, seed);
  y = batchNorm(y, `${name}_bn1`);
  y = relu(y, `${name}_relu1`);
  y = torchConv(y, filters, 3, 1, `${name}_conv2`, seed);
  y = batchNorm(y, `${name}_bn2`);
  let shortcut = x;
  if (strides !== 1 || inChannels !== filters) {
    shortcut = torchConv(x, filters, 1, strides, `${name}_downsample_0`, seed);
    shortcut = batchNorm(shortcut, `${name}_downsample_1`);
  }
  const sum = applyLayer(tfl.layers.add({ name: `${name}_add` }), [y, shortcut]);
  return relu(sum, `${name}_relu2`);
}

/**
 * layer1…layer4: two BasicBlocks; layers 2–4 halve the resolution and double the channels.
 * `seed`: the model's base seed, as for `resnet18Stem`.
 */
export function resnet18Stage(x: tfl.SymbolicTensor, stage: ResNet18Stage, namePrefix = '', seed?: number): tfl.SymbolicTensor {
  const filters = RESNET18_STAGE_CHANNELS[stage - 1];
  const firstStride = stage === 1 ? 1 : 2;
  const block0 = basicBlock(x, filters, firstStride, `${namePrefix}layer${stage}_0`, seed);
  return basicBlock(block0, filters, 1, `${namePrefix}layer${stage}_1`, seed);
}

/**
 * Global average pool → Dense(numClasses) with PyTorch's nn.Linear initialisation. `seed`: the
 * model's base seed, as for `resnet18Stem`.
 */
export function resnet18Head(x: tfl.SymbolicTensor, numClasses: number, namePrefix = '', seed?: number): tfl.SymbolicTensor {
  const pooled = applyLayer(tfl.layers.globalAveragePooling2d({ name: `${namePrefix}avgpool` }), x);
  const fanIn = pooled.shape[pooled.shape.length - 1] ?? 512;
  const bound = 1 / Math.sqrt(fanIn);
  const name = `${namePrefix}fc`;
  return applyLayer(
    tfl.layers.dense({
      units: numClasses,
      // nn.Linear: weight and bias ~ U(−1/√fan_in, 1/√fan_in).
      kernelInitializer: tfl.initializers.randomUniform({ minval: -bound, maxval: bound, seed: layerSeed(seed, `${name}/kernel`) }),
      biasInitializer: tfl.initializers.randomUniform({ minval: -bound, maxval: bound, seed: layerSeed(seed, `${name}/bias`) }),
      name,
    }),
    pooled,
  );
}

export interface ResolvedImageOptions {
  height: number;
  width: number;
  channels: number;
}

export function resolveImageOptions(options: Pick<ResNet18Options, 'imageSize' | 'channels'>): ResolvedImageOptions {
  const size = options.imageSize ?? 224;
  const [height, width] = typeof size === 'number' ? [size, size] : size;
  const channels = options.channels ?? 3;
  for (const [label, value] of [
    ['image height', height],
    ['image width', width],
    ['channels', channels],
  ] as const) {
    if (!Number.isInteger(value) || value < 1) throw new Error(`resnet18: ${label} must be a positive integer, got ${value}`);
  }
  // Five stride-2 reductions: anything smaller than 32 pixels collapses to nothing.
  if (height < 32 || width < 32) {
    throw new Error(`resnet18: images must be at least 32×32 (five stride-2 stages), got ${height}×${width}`);
  }
  return { height, width, channels };
}

export function checkNumClasses(numClasses: number, who: string): void {
  if (!Number.isInteger(numClasses) || numClasses < 1) {
    throw new Error(`${who}: numClasses must be a positive integer, got ${numClasses}`);
  }
}

/** A torchvision-compatible ResNet18 as a single-input, single-output `tf.LayersModel` (logits, no softmax). */
export function resnet18(options: ResNet18Options = {}): tfl.LayersModel {
  const numClasses = options.numClasses ?? 1000;
  checkNumClasses(numClasses, 'resnet18');
  checkSeed(options.seed, 'resnet18');
  const { height, width, channels } = resolveImageOptions(options);
  const prefix = options.namePrefix ?? '';
  const seed = options.seed;
  const input = tfl.input({ shape: [height, width, channels], name: `${prefix}input` });
  let x = resnet18Stem(input, prefix, seed);
  for (const stage of [1, 2, 3, 4] as const) x = resnet18Stage(x, stage, prefix, seed);
  const logits = resnet18Head(x, numClasses, prefix, seed);
  return tfl.model({ inputs: input, outputs: logits, name: options.name ?? `${prefix}resnet18` });
}
