import {
  AvgPool3DGrad,
  backend_util,
  Conv3D,
  Conv3DBackpropFilterV2,
  Conv3DBackpropInputV2,
  MaxPool3D,
  MaxPool3DGrad,
  SplitV,
  util,
  type KernelConfig,
  type KernelFunc,
  type TensorInfo,
} from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { CONV3D_THRESHOLDS } from './kernel-paths.js';
import { runRegisteredWasmKernel } from './stock-kernels.js';
import { copyRows, heapF32, requireFloat32, sliceRows, transposeMatrix } from './wasm-util.js';

/**
 * 3-D convolution and pooling kernels for the wasm backend.
 *
 * tfjs-backend-wasm 4.22 registers all of these, but (measured against direct-loop references
 * in conv3d-kernels.test.ts) Conv3DBackpropInputV2 is wrong for every shape,
 * Conv3DBackpropFilterV2 is wrong for strides > 1, MaxPool3D and MaxPool3DGrad are wrong on
 * ordinary random inputs, and AvgPool3DGrad divides by the full window size where the forward
 * pass divides by the in-bounds count. Its Conv3D is correct but runs naive loops at about
 * 0.2 GMAC/s, 40× slower than wasm's XNNPACK matrix product. So every convolution here is
 * vol2col (in JS) + the registered wasm BatchMatMul with untransposed operands (stock XNNPACK's
 * fast path: a transposed operand is ~13× slower there; with `fast` kernels registered, this
 * package's BatchMatMul, which runs N a multiple of 8 in the kernel module), and the pooling
 * kernels are direct loops.
 */

const MAX_COLUMN_FLOATS = CONV3D_THRESHOLDS.maxColumnFloats;

type Pad3D = 'valid' | 'same';

interface Geometry {
  batch: number;
  inD: number;
  inH: number;
  inW: number;
  inC: number;
  outD: number;
  outH: number;
  outW: number;
  outC: number;
  kD: number;
  kH: number;
  kW: number;
  sD: number;
  sH: number;
  sW: number;
  dD: number;
  dH: number;
  dW: number;
  padFront: number;
  padTop: number;
  padLeft: number;
}

function fromConvInfo(info: backend_util.Conv3DInfo): Geometry {
  return {
    batch: info.batchSize,
    inD: info.inDepth,
    inH: info.inHeight,
    inW: info.inWidth,
    inC: info.inChannels,
    outD: info.outDepth,
    outH: info.outHeight,
    outW: info.outWidth,
    outC: info.outChannels,
    kD: info.filterDepth,
    kH: info.filterHeight,
    kW: info.filterWidth,
    sD: info.strideDepth,
    sH: info.strideHeight,
    sW: info.strideWidth,
    dD: info.dilationDepth,
    dH: info.dilationHeight,
    dW: info.dilationWidth,
    padFront: info.padInfo.front,
    padTop: info.padInfo.top,
    padLeft: info.padInfo.left,
  };
}

/** One output position per row: (n, od, oh, ow) flattened. */
const rowCount = (g: Geometry) => g.batch * g.outD * g.outH * g.outW;
/** One (kd, kh, kw, ci) tap per column, in the DHWIO filter's row order. */
const columnCount = (g: Geometry) => g.kD * g.kH * g.kW * g.inC;
/** A 1×1×1 stride-1 convolution is a plain matrix product of x viewed as [rows, Ci]. */
const isPointwise = (g: Geometry) =>
  g.kD === 1 && g.kH === 1 && g.kW === 1 && g.sD === 1 && g.sH === 1 && g.sW === 1 && g.padFront === 0 && g.padTop === 0 && g.padLeft === 0;

/**
 * Calls visit(columnOffset, xOffset) for every in-bounds tap of output rows [rowStart,
 * rowStart + rows): columnOffset is the first channel's column in the chunk's [rows, K] matrix,
 * xOffset the first channel's offset in x (NDHWC). Out-of-bounds taps are left alone.
 */
function forEachInBoundsTap(g: Geometry, rowStart: number, rows: number, visit: (col: number, xAt: number) => void): void {
  const k = columnCount(g);
  for (let r = 0; r < rows; r++) {
    let rest = rowStart + r;
    const ow = rest % g.outW;
    rest = (rest - ow) / g.outW;
    const oh = rest % g.outH;
    rest = (rest - oh) / g.outH;
    const od = rest % g.outD;
    const n = (rest - od) / g.outD;
    const rowBase = r * k;
    for (let kd = 0; kd < g.kD; kd++) {
      const id = od * g.sD + kd * g.dD - g.padFront;
      if (id < 0 || id >= g.inD) continue;
      for (let kh = 0; kh < g.kH; kh++) {
        const ih = oh * g.sH + kh * g.dH - g.padTop;
        if (ih < 0 || ih >= g.inH) continue;
        const xRow = ((n * g.inD + id) * g.inH + ih) * g.inW;
        for (let kw = 0; kw < g.kW; kw++) {
          const iw = ow * g.sW + kw * g.dW - g.padLeft;
          if (iw < 0 || iw >= g.inW) continue;
          visit(rowBase + ((kd * g.kH + kh) * g.kW + kw) * g.inC, (xRow + iw) * g.inC);
        }
      }
    }
  }
}

function fillColumns(g: Geometry, x: Float32Array, rowStart: number, rows: number, columns: Float32Array): void {
  columns.fill(0, 0, rows * columnCount(g));
  const c = g.inC;
  forEachInBoundsTap(g, rowStart, rows, (col, xAt) => {
    for (let ci = 0; ci < c; ci++) columns[col + ci] = x[xAt + ci];
  });
}

/** vol2col written transposed: columnsT[col · rows + r], for the filter gradient. */
function fillColumnsTransposed(g: Geometry, x: Float32Array, rowStart: number, rows: number, columnsT: Float32Array): void {
  columnsT.fill(0, 0, rows * columnCount(g));
  const c = g.inC;
  const k = columnCount(g);
  forEachInBoundsTap(g, rowStart, rows, (col, xAt) => {
    const r = Math.floor(col / k);
    const base = (col - r * k) * rows + r;
    for (let ci = 0; ci < c; ci++) columnsT[base + ci * rows] = x[xAt + ci];
  });
}

function scatterColumns(g: Geometry, columns: Float32Array, rowStart: number, rows: number, dx: Float32Array): void {
  const c = g.inC;
  forEachInBoundsTap(g, rowStart, rows, (col, xAt) => {
    for (let ci = 0; ci < c; ci++) dx[xAt + ci] += columns[col + ci];
  });
}

/**
 * a [m, k] × b [k, n] by the registered BatchMatMul; operands are views of existing buffers with
 * the given shapes. `b` must not change content under the same tensor id (XNNPACK's packed copy
 * is cached by id).
 */
function matMul(wasm: BackendWasm, a: TensorInfo, aShape: number[], b: TensorInfo, bShape: number[]): TensorInfo {
  return runRegisteredWasmKernel(wasm, 'BatchMatMul', { a: { ...a, shape: aShape }, b: { ...b, shape: bShape } }, { transposeA: false, transposeB: false });
}

const heap = heapF32;

function rowsPerChunk(g: Geometry): number {
  return Math.max(1, Math.min(rowCount(g), Math.floor(MAX_COLUMN_FLOATS / columnCount(g))));
}

interface Conv3DAttrs {
  strides: [number, number, number] | number;
  pad: Pad3D;
  dilations?: [number, number, number] | number;
  dataFormat?: 'NDHWC' | 'NCDHW';
  filterShape?: [number, number, number, number, number];
  inputShape?: [number, number, number, number, number];
}

function checkFormat(kernel: string, attrs: Conv3DAttrs): void {
  if (attrs.dataFormat !== undefined && attrs.dataFormat !== 'NDHWC') {
    throw new Error(`${kernel} (wasm, @mm/backend) supports NDHWC only, got ${attrs.dataFormat}.`);
  }
}

/** y = vol2col(x) · W, with W viewed as [K, Co]. */
export const conv3DWasm: KernelFunc = ({ inputs, backend, attrs }) => {
  const wasm = backend as BackendWasm;
  const { x, filter } = inputs as { x: TensorInfo; filter: TensorInfo };
  const a = attrs as unknown as Conv3DAttrs;
  requireFloat32('Conv3D', x, filter);
  checkFormat('Conv3D', a);
  const info = backend_util.computeConv3DInfo(
    x.shape as [number, number, number, number, number],
    filter.shape as [number, number, number, number, number],
    a.strides,
    a.dilations ?? 1,
    a.pad,
  );
  const g = fromConvInfo(info);
  const rows = rowCount(g);
  const k = columnCount(g);
  if (isPointwise(g)) {
    const out = matMul(wasm, x, [rows, k], filter, [k, g.outC]);
    out.shape = info.outShape;
    return out;
  }
  const chunk = rowsPerChunk(g);
  const columns = wasm.makeOutput([chunk, k], 'float32');
  const out = chunk === rows ? undefined : wasm.makeOutput(info.outShape, 'float32');
  let result: TensorInfo | undefined;
  for (let r0 = 0; r0 < rows; r0 += chunk) {
    const n = Math.min(chunk, rows - r0);
    fillColumns(g, heap(wasm, x), r0, n, heap(wasm, columns));
    const product = matMul(wasm, columns, [n, k], filter, [k, g.outC]);
    if (out === undefined) {
      result = product;
      break;
    }
    heap(wasm, out).set(heap(wasm, product).subarray(0, n * g.outC), r0 * g.outC);
    wasm.disposeData(product.dataId);
  }
  wasm.disposeData(columns.dataId);
  const y = (result ?? out) as TensorInfo;
  y.shape = info.outShape;
  return y;
};

/**
 * dW [K, Co] = Σ_chunks vol2col(x)ᵀ [K, rows] · dy [rows, Co]. This orientation (the long
 * dimension inside the product, the small dy as XNNPACK's packed operand) runs 2–4× faster
 * than dyᵀ · vol2col(x) on wasm, and its result is already in the DHWIO filter layout.
 */
export const conv3DBackpropFilterV2Wasm: KernelFunc = ({ inputs, backend, attrs }) => {
  const wasm = backend as BackendWasm;
  const { x, dy } = inputs as { x: TensorInfo; dy: TensorInfo };
  const a = attrs as unknown as Conv3DAttrs;
  requireFloat32('Conv3DBackpropFilterV2', x, dy);
  const filterShape = a.filterShape as [number, number, number, number, number];
  const info = backend_util.computeConv3DInfo(
    x.shape as [number, number, number, number, number],
    filterShape,
    a.strides,
    a.dilations ?? 1,
    a.pad,
  );
  const g = fromConvInfo(info);
  const rows = rowCount(g);
  const k = columnCount(g);
  if (isPointwise(g)) return pointwiseFilterGradient(wasm, x, dy, rows, k, g.outC, filterShape);
  const chunk = rowsPerChunk(g);
  const sum = new Float32Array(k * g.outC);
  for (let r0 = 0; r0 < rows; r0 += chunk) {
    const n = Math.min(chunk, rows - r0);
    // Fresh buffers per chunk: wasm's BatchMatMul caches XNNPACK's packed copy of its second
    // operand by tensor id, so refilling one buffer would multiply by stale values.
    const columnsT = wasm.makeOutput([k, n], 'float32');
    const dyChunk = n === rows ? undefined : sliceRows(wasm, dy, r0, n, g.outC);
    fillColumnsTransposed(g, heap(wasm, x), r0, n, heap(wasm, columnsT));
    const product = matMul(wasm, columnsT, [k, n], dyChunk ?? dy, [n, g.outC]);
    const p = heap(wasm, product);
    for (let i = 0; i < sum.length; i++) sum[i] += p[i];
    wasm.disposeData(product.dataId);
    wasm.disposeData(columnsT.dataId);
    if (dyChunk !== undefined) wasm.disposeData(dyChunk.dataId);
  }
  const dw = wasm.makeOutput(filterShape, 'float32');
  heap(wasm, dw).set(sum);
  return dw;
};

/**
 * 1×1×1 stride 1: dWᵀ [Co, Ci] = dyᵀ [Co, rows] · x [rows, Ci] with x itself as the packed
 * operand (no vol2col); measured faster than xᵀ · dy for these shapes.
 */
function pointwiseFilterGradient(wasm: BackendWasm, x: TensorInfo, dy: TensorInfo, rows: number, inC: number, outC: number, filterShape: number[]): TensorInfo {
  const dyT = wasm.makeOutput([outC, rows], 'float32');
  transposeMatrix(heap(wasm, dy), 0, rows, outC, heap(wasm, dyT));
  const product = matMul(wasm, dyT, [outC, rows], x, [rows, inC]);
  const dw = wasm.makeOutput(filterShape, 'float32');
  transposeMatrix(heap(wasm, product), 0, outC, inC, heap(wasm, dw));
  wasm.disposeData(product.dataId);
  wasm.disposeData(dyT.dataId);
  return dw;
}

/** dx = col2vol(dy [rows, Co] · Wᵀ [Co, K]) */
export const conv3DBackpropInputV2Wasm: KernelFunc = ({ inputs, backend, attrs }) => {
  const wasm = backend as BackendWasm;
  const { dy, filter } = inputs as { dy: TensorInfo; filter: TensorInfo };
  const a = attrs as unknown as Conv3DAttrs;
  requireFloat32('Conv3DBackpropInputV2', dy, filter);
  const inputShape = a.inputShape as [number, number, number, number, number];
  const info = backend_util.computeConv3DInfo(
    inputShape,
    filter.shape as [number, number, number, number, number],
    a.strides,
    a.dilations ?? 1,
    a.pad,
  );
  const g = fromConvInfo(info);
  const rows = rowCount(g);
  const k = columnCount(g);
  const filterT = wasm.makeOutput([g.outC, k], 'float32');
  transposeMatrix(heap(wasm, filter), 0, k, g.outC, heap(wasm, filterT));
  if (isPointwise(g)) {
    const dx = matMul(wasm, dy, [rows, g.outC], filterT, [g.outC, k]);
    wasm.disposeData(filterT.dataId);
    dx.shape = inputShape;
    return dx;
  }
  const chunk = rowsPerChunk(g);
  const dyChunk = chunk === rows ? undefined : wasm.makeOutput([chunk, g.outC], 'float32');
  const dx = wasm.makeOutput(inputShape, 'float32');
  heap(wasm, dx).fill(0);
  for (let r0 = 0; r0 < rows; r0 += chunk) {
    const n = Math.min(chunk, rows - r0);
    if (dyChunk !== undefined) copyRows(wasm, dy, r0, n, g.outC, dyChunk);
    const columns = matMul(wasm, dyChunk ?? dy, [n, g.outC], filterT, [g.outC, k]);
    scatterColumns(g, heap(wasm, columns), r0, n, heap(wasm, dx));
    wasm.disposeData(columns.dataId);
  }
  if (dyChunk !== undefined) wasm.disposeData(dyChunk.dataId);
  wasm.disposeData(filterT.dataId);
  return dx;
};

interface Pool3DAttrs {
  filterSize: [number, number, number] | number;
  strides: [number, number, number] | number;
  pad: Pad3D | number;
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
  dataFormat?: 'NDHWC' | 'NCDHW';
}

function poolGeometry(kernel: string, shape: number[], a: Pool3DAttrs): Geometry {
  checkFormat(kernel, a as Conv3DAttrs);
  const info = backend_util.computePool3DInfo(
    shape as [number, number, number, number, number],
    a.filterSize,
    a.strides,
    1,
    a.pad,
    a.dimRoundingMode,
  );
  return fromConvInfo(info);
}

/**
 * For every output row and channel, the flat x offset of the window's maximum over in-bounds
 * positions only (TF 'SAME' semantics), first maximum in (d, h, w) order; -1 for empty windows.
 */
function argmaxPool(g: Geometry, x: Float32Array): Int32Array {
  const rows = rowCount(g);
  const c = g.inC;
  const best = new Float32Array(rows * c).fill(-Infinity);
  const at = new Int32Array(rows * c).fill(-1);
  // Pool windows are vol2col rows with K = kD·kH·kW·C; reuse the tap walk with a 1-channel view.
  const taps = g.kD * g.kH * g.kW;
  forEachInBoundsTap(g, 0, rows, (col, xAt) => {
    const row = Math.floor(col / (taps * c));
    const base = row * c;
    for (let ci = 0; ci < c; ci++) {
      const v = x[xAt + ci];
      if (v > best[base + ci] || (at[base + ci] < 0 && !Number.isNaN(v))) {
        best[base + ci] = v;
        at[base + ci] = xAt + ci;
      }
    }
  });
  return at;
}

export const maxPool3DWasm: KernelFunc = ({ inputs, backend, attrs }) => {
  const wasm = backend as BackendWasm;
  const { x } = inputs as { x: TensorInfo };
  requireFloat32('MaxPool3D', x);
  const g = poolGeometry('MaxPool3D', x.shape, attrs as unknown as Pool3DAttrs);
  const xData = heap(wasm, x);
  const at = argmaxPool(g, xData);
  const out = wasm.makeOutput([g.batch, g.outD, g.outH, g.outW, g.outC], 'float32');
  const y = heap(wasm, out);
  const xAfter = heap(wasm, x);
  for (let i = 0; i < at.length; i++) y[i] = at[i] >= 0 ? xAfter[at[i]] : Number.NEGATIVE_INFINITY;
  return out;
};

export const maxPool3DGradWasm: KernelFunc = ({ inputs, backend, attrs }) => {
  const wasm = backend as BackendWasm;
  const { dy, input } = inputs as { dy: TensorInfo; input: TensorInfo };
  requireFloat32('MaxPool3DGrad', dy, input);
  const g = poolGeometry('MaxPool3DGrad', input.shape, attrs as unknown as Pool3DAttrs);
  const at = argmaxPool(g, heap(wasm, input));
  const dx = wasm.makeOutput(input.shape, 'float32');
  const dxData = heap(wasm, dx);
  dxData.fill(0);
  const dyData = heap(wasm, dy);
  for (let i = 0; i < at.length; i++) if (at[i] >= 0) dxData[at[i]] += dyData[i];
  return dx;
};

/** Spreads each output's gradient evenly over its in-bounds window, as the forward pass averages. */
export const avgPool3DGradWasm: KernelFunc = ({ inputs, backend, attrs }) => {
  const wasm = backend as BackendWasm;
  const { dy, input } = inputs as { dy: TensorInfo; input: TensorInfo };
  requireFloat32('AvgPool3DGrad', dy);
  const g = poolGeometry('AvgPool3DGrad', input.shape, attrs as unknown as Pool3DAttrs);
  const rows = rowCount(g);
  const c = g.inC;
  const taps = g.kD * g.kH * g.kW;
  const count = new Int32Array(rows);
  forEachInBoundsTap(g, 0, rows, (col) => count[Math.floor(col / (taps * c))]++);
  const dx = wasm.makeOutput(input.shape, 'float32');
  const dxData = heap(wasm, dx);
  dxData.fill(0);
  const dyData = heap(wasm, dy);
  forEachInBoundsTap(g, 0, rows, (col, xAt) => {
    const row = Math.floor(col / (taps * c));
    const share = 1 / count[row];
    for (let ci = 0; ci < c; ci++) dxData[xAt + ci] += dyData[row * c + ci] * share;
  });
  return dx;
};

/**
 * Replacements for stock wasm kernels that give wrong results (see the file comment); they are
 * registered whatever the `fast` option says.
 */
export const conv3DCorrectedWasmKernels: readonly KernelConfig[] = [
  { kernelName: Conv3DBackpropFilterV2, backendName: 'wasm', kernelFunc: conv3DBackpropFilterV2Wasm },
  { kernelName: Conv3DBackpropInputV2, backendName: 'wasm', kernelFunc: conv3DBackpropInputV2Wasm },
  { kernelName: MaxPool3D, backendName: 'wasm', kernelFunc: maxPool3DWasm },
  { kernelName: MaxPool3DGrad, backendName: 'wasm', kernelFunc: maxPool3DGradWasm },
  { kernelName: AvgPool3DGrad, backendName: 'wasm', kernelFunc: avgPool3DGradWasm },
];

/**
 * SplitV as contiguous block copies. It is the gradient of Concat, which joins the four branches
 * of every inception module along the channel axis of a 5-D map; the stock wasm kernel slices
 * rank-5 tensors element by element and took ~20% of an I3D training step.
 */
export const splitVWasm: KernelFunc = ({ inputs, backend, attrs }) => {
  const wasm = backend as BackendWasm;
  const { x } = inputs as { x: TensorInfo };
  const { numOrSizeSplits, axis } = attrs as unknown as { numOrSizeSplits: number[] | number; axis: number };
  const $axis = util.parseAxisParam(axis, x.shape)[0];
  const sizes = backend_util.prepareSplitSize(x, numOrSizeSplits, $axis);
  const outer = util.sizeFromShape(x.shape.slice(0, $axis));
  const inner = util.sizeFromShape(x.shape.slice($axis + 1));
  const rowLength = x.shape[$axis] * inner;
  const outputs: TensorInfo[] = [];
  for (const size of sizes) {
    const shape = [...x.shape];
    shape[$axis] = size;
    outputs.push(wasm.makeOutput(shape, x.dtype));
  }
  // Heap views after every allocation: growing the wasm memory detaches older views.
  const source = wasm.typedArrayFromHeap(x);
  let offset = 0;
  sizes.forEach((size, i) => {
    const target = wasm.typedArrayFromHeap(outputs[i]);
    const block = size * inner;
    for (let o = 0; o < outer; o++) {
      const from = o * rowLength + offset;
      const to = o * block;
      if (block < CONV3D_THRESHOLDS.minBlockForCopy) {
        for (let j = 0; j < block; j++) target[to + j] = source[from + j];
      } else {
        target.set(source.subarray(from, from + block), to);
      }
    }
    offset += block;
  });
  return outputs;
};

/**
 * Faster replacements, registered when `fast` (the default): the stock wasm Conv3D is correct
 * but ~40× slower than this one, and the stock SplitV is slow for rank-5 tensors.
 */
export const conv3DFastWasmKernels: readonly KernelConfig[] = [
  { kernelName: Conv3D, backendName: 'wasm', kernelFunc: conv3DWasm },
  { kernelName: SplitV, backendName: 'wasm', kernelFunc: splitVWasm },
];
