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
  { name: 'NCHW stride 2 (stock fallback)', x: [2, 3, 9, 7], filter: [3, 3, 3, 4], strides: 2, pad: 'same', dataFormat: 'NCHW' },
  { name: 'NCHW valid (stock fallback)', x: [1, 2, 6, 6], filter: [3, 3, 2, 2], strides: 1, pad: 'valid', dataFormat: 'NCHW' },
];
