import type * as tfl from '@tensorflow/tfjs-layers';
import { cgMnistFusedNet, CG_MNIST_DEFAULT_WIDTHS, CG_MNIST_FUSION_BLOCKS, CG_MNIST_INPUT_CHANNELS } from '@mm/models';

/**
 * The network timed by bench:step is the project's own CG-MNIST net from `@mm/models`, the
 * twin of `torch/torch_twin.py` in this package (same layers, 284,820 trainable parameters):
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
/** Channels of blocks 1–4: the full widths above, or e.g. the reduced 8/16/32/64 of colored-mnist's default settings. */
export type Widths = readonly [number, number, number, number];
export const MMTM_RATIO = 4;
export const FUSED_BLOCKS = CG_MNIST_FUSION_BLOCKS;
export const INPUT_CHANNELS = CG_MNIST_INPUT_CHANNELS;

/** `fused: false` drops the MMTM modules (late fusion, torch_twin's unimodal mode). Seeded, so every mode starts from the same weights. */
export function buildNetwork(fused = true, widths: Widths = WIDTHS): tfl.LayersModel {
  return cgMnistFusedNet({ fusion: fused ? 'mmtm' : 'none', seed: 1, widths });
}

/**
 * Reads a `--widths` value such as `8,16,32,64`; throws a RangeError saying what was wrong (the
 * callers prefix the option and their own name).
 */
export function parseWidths(value: string | undefined): Widths {
  const parts = (value ?? '').split(',');
  const numbers = parts.map((part) => (part.trim() === '' ? NaN : Number(part)));
  if (numbers.length !== 4 || numbers.some((n) => !Number.isInteger(n) || n < 1)) {
    throw new RangeError(`needs four positive integers (channels of blocks 1–4), e.g. 8,16,32,64; got ${value ?? 'nothing'}`);
  }
  return numbers as unknown as Widths;
}
