import * as tf from '@tensorflow/tfjs-core';

/** Deterministic pseudo-random values in [-1, 1) (xorshift32), shared by the kernel tests. */
export function randomValues(size: number, seed: number): Float32Array {
  const out = new Float32Array(size);
  let state = seed >>> 0 || 1;
  for (let i = 0; i < size; i++) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    out[i] = ((state >>> 0) / 2 ** 32) * 2 - 1;
  }
  return out;
}

/** Largest element-wise |a − b|; throws when the lengths differ. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} ≠ ${b.length}`);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
  return max;
}

export type Pad = 'same' | 'valid' | number | number[][];

export interface ConvCase {
  name: string;
  x: [number, number, number, number];
  filter: [number, number, number, number];
  strides: number | [number, number];
  pad: Pad;
  dataFormat?: 'NHWC' | 'NCHW';
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

/** 2-D convolution gradient cases: strides, odd sizes, every padding kind, rounding, NCHW. */
export const CONV_CASES: ConvCase[] = [
  { name: '3x3 same stride 1 (the benchmark layers)', x: [4, 7, 7, 8], filter: [3, 3, 8, 16], strides: 1, pad: 'same' },
  { name: '3x3 same stride 1, one input channel', x: [3, 12, 12, 1], filter: [3, 3, 1, 5], strides: 1, pad: 'same' },
  { name: '3x3 same stride 2 odd size', x: [3, 9, 11, 2], filter: [3, 3, 2, 5], strides: 2, pad: 'same' },
  { name: '3x3 valid stride 2', x: [2, 9, 9, 3], filter: [3, 3, 3, 2], strides: 2, pad: 'valid' },
  { name: 'valid stride 2 with an unread last row', x: [2, 10, 8, 3], filter: [3, 3, 3, 4], strides: 2, pad: 'valid' },
  { name: '7x7 same stride 2 (ResNet stem)', x: [1, 17, 17, 3], filter: [7, 7, 3, 4], strides: 2, pad: 'same' },
  { name: '1x1 stride 2 projection', x: [2, 8, 8, 4], filter: [1, 1, 4, 6], strides: 2, pad: 'valid' },
  { name: 'non-square filter and strides', x: [2, 10, 7, 2], filter: [2, 3, 2, 3], strides: [2, 1], pad: 'same' },
  { name: 'even filter same', x: [1, 6, 6, 2], filter: [4, 4, 2, 2], strides: 1, pad: 'same' },
  {
    name: 'explicit asymmetric padding',
    x: [2, 6, 5, 2],
    filter: [3, 3, 2, 3],
    strides: 2,
    pad: [[0, 0], [1, 2], [0, 1], [0, 0]],
  },
  { name: 'numeric padding with rounding', x: [1, 8, 8, 2], filter: [3, 3, 2, 2], strides: 2, pad: 1, dimRoundingMode: 'ceil' },
  { name: '3x3 same, rows of 20 (block-copy product)', x: [3, 18, 20, 3], filter: [3, 3, 3, 5], strides: 1, pad: 'same' },
  { name: '5x5 valid, rows of 18 (block-copy product)', x: [2, 9, 22, 2], filter: [5, 5, 2, 4], strides: 1, pad: 'valid' },
  { name: 'stride 2 down, 1 across, rows of 17 (block-copy product)', x: [2, 11, 17, 3], filter: [3, 3, 3, 2], strides: [2, 1], pad: 'same' },
  {
    name: 'explicit padding wider than the filter reach, rows of 24',
    x: [2, 5, 19, 2],
    filter: [3, 3, 2, 3],
    strides: 1,
    pad: [[0, 0], [2, 0], [4, 3], [0, 0]],
  },
  { name: '3x3 same, 5 → 24 channels (convolution module, channel tail)', x: [3, 9, 10, 5], filter: [3, 3, 5, 24], strides: 1, pad: 'same' },
  { name: '3x3 same stride 2, 16 → 32 (convolution module)', x: [2, 14, 14, 16], filter: [3, 3, 16, 32], strides: 2, pad: 'same' },
  { name: 'NCHW stride 2 (stock fallback)', x: [2, 3, 9, 7], filter: [3, 3, 3, 4], strides: 2, pad: 'same', dataFormat: 'NCHW' },
  { name: 'NCHW valid (stock fallback)', x: [1, 2, 6, 6], filter: [3, 3, 2, 2], strides: 1, pad: 'valid', dataFormat: 'NCHW' },
];

export const size = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

export interface KernelCall {
  kernel: string;
  /** Input shapes (random float32 values) or ready-made values per input name. */
  inputs: Record<string, number[] | { shape: number[]; values: Float32Array | Int32Array; dtype?: 'float32' | 'int32' }>;
  attrs: Record<string, unknown>;
}

/** Runs one kernel on `backend` with deterministic random inputs (seeded from `seed`). */
export async function runKernelOn(backend: string, call: KernelCall, seed: number): Promise<{ values: Float32Array; shape: number[] }> {
  await tf.setBackend(backend);
  return tf.tidy(() => {
    const inputs: Record<string, tf.Tensor> = {};
    let s = seed;
    for (const [name, spec] of Object.entries(call.inputs)) {
      inputs[name] = Array.isArray(spec)
        ? tf.tensor(randomValues(size(spec), s++), spec)
        : tf.tensor(spec.values, spec.shape, spec.dtype ?? 'float32');
    }
    const out = tf.engine().runKernel(call.kernel, inputs as never, call.attrs as never) as tf.Tensor;
    return { values: Float32Array.from(out.dataSync() as Float32Array), shape: out.shape };
  });
}

/** Max |a − b| divided by max(1, max|b|): sums over a batch grow with it, so the bound scales. */
export function relativeError(actual: Float32Array, expected: Float32Array): number {
  if (actual.length !== expected.length) throw new Error(`length ${actual.length} ≠ ${expected.length}`);
  let maxDiff = 0;
  let scale = 1;
  for (let i = 0; i < actual.length; i++) {
    maxDiff = Math.max(maxDiff, Math.abs(actual[i] - expected[i]));
    scale = Math.max(scale, Math.abs(expected[i]));
  }
  return maxDiff / scale;
}

/** Output shape of the forward convolution of a case (the dy of its gradients). */
export function convOutputShape(c: ConvCase): number[] {
  const format = c.dataFormat === 'NCHW' ? 'channelsFirst' : 'channelsLast';
  const info = tf.backend_util.computeConv2DInfo(c.x, c.filter, c.strides, 1, c.pad as never, c.dimRoundingMode, false, format);
  return c.dataFormat === 'NCHW'
    ? [info.batchSize, info.outChannels, info.outHeight, info.outWidth]
    : [info.batchSize, info.outHeight, info.outWidth, info.outChannels];
}

/** Element-wise cases: same shape, every broadcast the kernel module takes, and ones it leaves to stock. */
export const BINARY_CASES: { a: number[]; b: number[] }[] = [
  { a: [16, 14, 14, 16], b: [16, 14, 14, 16] },
  { a: [16, 14, 14, 16], b: [16] },
  { a: [16, 14, 14, 16], b: [1, 1, 1, 16] },
  { a: [1, 1, 1, 16], b: [16, 14, 14, 16] },
  { a: [16, 14, 14, 32], b: [16, 1, 1, 32] },
  { a: [16, 1, 1, 32], b: [16, 14, 14, 32] },
  { a: [9, 13, 11, 13], b: [13] },
  { a: [700, 30], b: [30] },
  { a: [64, 400], b: [64, 1] },
  { a: [6, 4, 4, 8], b: [8] },
];

/** Unary inputs with zeros and NaN mixed in (Step's edge cases), large enough for the module. */
export function unaryValues(count: number, seed: number): Float32Array {
  const values = randomValues(count, seed);
  for (let i = 0; i < count; i += 7) values[i] = 0;
  for (let i = 3; i < count; i += 101) values[i] = Number.NaN;
  return values;
}

/**
 * Gradients of a small conv → batch norm (tf.moments) → max-pool → strided conv network on
 * `backend`, after three warm-up evaluations, and how many tensors those leaked.
 */
export async function smallNetworkGradients(backend: string): Promise<{ grads: Float32Array[]; leaked: number }> {
  await tf.setBackend(backend);
  const x = tf.tensor4d(randomValues(4 * 12 * 12 * 3, 7), [4, 12, 12, 3]);
  const w1 = tf.variable(tf.tensor4d(randomValues(3 * 3 * 3 * 8, 8), [3, 3, 3, 8]));
  const w2 = tf.variable(tf.tensor4d(randomValues(3 * 3 * 8 * 4, 9), [3, 3, 8, 4]));
  const offset = tf.variable(tf.tensor1d(randomValues(8, 10)));
  const scale = tf.variable(tf.tensor1d(randomValues(8, 11)));
  const f = () =>
    tf.tidy(() => {
      let h: tf.Tensor4D = tf.relu(tf.conv2d(x, w1, 1, 'same'));
      const { mean, variance } = tf.moments(h, [0, 1, 2]);
      h = tf.batchNorm4d(h, mean as tf.Tensor1D, variance as tf.Tensor1D, offset, scale, 1e-5);
      h = tf.maxPool(h, 2, 2, 'valid');
      h = tf.conv2d(h, w2, 2, 'same');
      return tf.mean(tf.square(h)) as tf.Scalar;
    });
  const before = tf.memory().numTensors;
  for (let i = 0; i < 3; i++) tf.tidy(() => Object.values(tf.variableGrads(f).grads).forEach((g) => g.dataSync()));
  const leaked = tf.memory().numTensors - before;
  const grads = tf.tidy(() => {
    const { grads: g } = tf.variableGrads(f);
    return [w1, w2, offset, scale].map((w) => Float32Array.from(g[w.name].dataSync() as Float32Array));
  });
  [x, w1, w2, offset, scale].forEach((t) => t.dispose());
  return { grads, leaked };
}
