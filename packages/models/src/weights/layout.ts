/**
 * Layout conversions between PyTorch (channels-first activations, `out, in, kernel…` weights)
 * and tfjs (channels-last activations, `kernel…, in, out` weights). Pure typed-array code.
 */

export interface DenseArray {
  readonly shape: readonly number[];
  readonly data: Float32Array;
}

/** How a PyTorch parameter maps onto a tfjs weight. */
export type TorchLayout =
  /** Same shape and order (biases, BatchNorm vectors, scalars). */
  | 'identity'
  /** nn.Linear weight `[out, in]` → Dense kernel `[in, out]`. */
  | 'linear'
  /** nn.Conv1d weight `[O, I, W]` → `[W, I, O]`. */
  | 'conv1d'
  /** nn.Conv2d weight OIHW → HWIO. */
  | 'conv2d'
  /** nn.Conv3d weight OIDHW → DHWIO. */
  | 'conv3d';

/** For each layout, the axes of the PyTorch array that become tfjs axes 0, 1, 2, … */
export const TORCH_TO_TFJS_AXES: Readonly<Record<Exclude<TorchLayout, 'identity'>, readonly number[]>> = {
  linear: [1, 0],
  conv1d: [2, 1, 0],
  conv2d: [2, 3, 1, 0],
  conv3d: [2, 3, 4, 1, 0],
};

/** Generic N-d transpose: output axis i is input axis `axes[i]` (numpy's `transpose(axes)`). */
export function transposeArray(input: DenseArray, axes: readonly number[]): DenseArray {
  const { shape, data } = input;
  const rank = shape.length;
  if (axes.length !== rank || [...axes].sort((a, b) => a - b).some((a, i) => a !== i)) {
    throw new Error(`transposeArray: axes ${JSON.stringify(axes)} are not a permutation of 0..${rank - 1}`);
  }
  const outShape = axes.map((a) => shape[a]);
  const inStrides = new Array<number>(rank);
  let stride = 1;
  for (let i = rank - 1; i >= 0; i--) {
    inStrides[i] = stride;
    stride *= shape[i];
  }
  if (stride !== data.length) throw new Error(`transposeArray: ${data.length} values do not fill shape ${JSON.stringify(shape)}`);
  // Stride in the input of each output axis: walking the output in row-major order.
  const walkStrides = axes.map((a) => inStrides[a]);
  const out = new Float32Array(data.length);
  const index = new Array<number>(rank).fill(0);
  let source = 0;
  for (let o = 0; o < out.length; o++) {
    out[o] = data[source];
    for (let axis = rank - 1; axis >= 0; axis--) {
      index[axis] += 1;
      source += walkStrides[axis];
      if (index[axis] < outShape[axis]) break;
      source -= walkStrides[axis] * outShape[axis];
      index[axis] = 0;
    }
  }
  return { shape: outShape, data: out };
}

function inverseAxes(axes: readonly number[]): number[] {
  const inverse = new Array<number>(axes.length);
  axes.forEach((a, i) => {
    inverse[a] = i;
  });
  return inverse;
}

/** A PyTorch parameter in tfjs layout. */
export function torchToTfjs(input: DenseArray, layout: TorchLayout): DenseArray {
  return layout === 'identity' ? input : transposeArray(input, TORCH_TO_TFJS_AXES[layout]);
}

/** A tfjs weight in PyTorch layout (to export weights back to PyTorch). */
export function tfjsToTorch(input: DenseArray, layout: TorchLayout): DenseArray {
  return layout === 'identity' ? input : transposeArray(input, inverseAxes(TORCH_TO_TFJS_AXES[layout]));
}

/** The PyTorch shape of a tfjs weight of shape `tfjsShape` stored with `layout`. */
export function torchShapeOf(tfjsShape: readonly number[], layout: TorchLayout): number[] {
  if (layout === 'identity') return [...tfjsShape];
  const inverse = inverseAxes(TORCH_TO_TFJS_AXES[layout]);
  return inverse.map((a) => tfjsShape[a]);
}

/** Activations: NCHW → NHWC and NCDHW → NDHWC (any rank ≥ 3: channels move from axis 1 to the end). */
export function channelsFirstToLast(input: DenseArray): DenseArray {
  const rank = input.shape.length;
  if (rank < 3) throw new Error(`channelsFirstToLast: needs rank ≥ 3, got shape ${JSON.stringify(input.shape)}`);
  const axes = [0, ...Array.from({ length: rank - 2 }, (_, i) => i + 2), 1];
  return transposeArray(input, axes);
}

/** Activations: NHWC → NCHW and NDHWC → NCDHW. */
export function channelsLastToFirst(input: DenseArray): DenseArray {
  const rank = input.shape.length;
  if (rank < 3) throw new Error(`channelsLastToFirst: needs rank ≥ 3, got shape ${JSON.stringify(input.shape)}`);
  const axes = [0, rank - 1, ...Array.from({ length: rank - 2 }, (_, i) => i + 1)];
  return transposeArray(input, axes);
}
