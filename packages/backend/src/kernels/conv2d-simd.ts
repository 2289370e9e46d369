import {
  backend_util,
  Conv2D,
  FusedConv2D,
  type KernelConfig,
  type KernelFunc,
  type TensorInfo,
  util,
} from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { chunkCount, partOf, simdModuleFor, type SimdModule } from './simd/simd-module.js';
import type { SharedArgs } from './simd/kernel-exports.js';
import { CONV2D_THRESHOLDS, conv2DInputGradientPath, conv2DModulePath, FILTER_GRADIENT_THRESHOLDS, type ConvGeometry } from './kernel-paths.js';
import { heapByteOffset, heapFloatOffset, wholeHeapF32 } from './wasm-util.js';
import { runStockWasmKernel } from './stock-kernels.js';

/**
 * Conv2D forward, input gradient and filter gradient through the @mm/backend kernel
 * module (csrc/kernels.c: relaxed-SIMD FMA, on tfjs's heap, split across the wasm threads),
 * for float32 NHWC with output channels a multiple of 8. Anything else returns undefined and
 * the caller uses the XNNPACK-based path.
 */

function allFloat32(...tensors: TensorInfo[]): boolean {
  return tensors.every((t) => t.dtype === 'float32');
}

/**
 * y = act(conv(x, w) + bias) in one pass (bias and ReLU in the tile's epilogue), with `packed`
 * the filter already in conv2d's [Co/8][K][8] layout (rotated for the input gradient).
 */
function runConv(
  wasm: BackendWasm,
  module: SimdModule,
  x: TensorInfo,
  packed: TensorInfo,
  bias: TensorInfo | undefined,
  relu: boolean,
  geometry: ConvGeometry,
): TensorInfo {
  const g = geometry;
  const out = wasm.makeOutput([g.batch, g.outHeight, g.outWidth, g.outChannels], 'float32');
  const taps = g.filterHeight * g.filterWidth;
  const parts = chunkCount(module, g.batch * g.outHeight * g.outWidth, CONV2D_THRESHOLDS.minPixelsPerChunk);
  // Per chunk: KH·KW·4 row pointers; one shared row of zeros for taps in the padding.
  const slots = taps * 4;
  const scratch = wasm.makeOutput([parts * slots + g.inChannels], 'float32');
  const scratchAt = heapByteOffset(wasm, scratch);
  const zerosAt = scratchAt + parts * slots * 4;
  wholeHeapF32(wasm).fill(0, zerosAt / 4, zerosAt / 4 + g.inChannels);
  const pixels = g.batch * g.outHeight * g.outWidth;
  const shared = {
    x: heapByteOffset(wasm, x), packed: heapByteOffset(wasm, packed), bias: bias === undefined ? 0 : heapByteOffset(wasm, bias),
    out: heapByteOffset(wasm, out), zeros: zerosAt,
    H: g.inHeight, W: g.inWidth, Ci: g.inChannels, OH: g.outHeight, OW: g.outWidth, Co: g.outChannels, KH: g.filterHeight, KW: g.filterWidth,
    sh: g.strideHeight, sw: g.strideWidth, dh: g.dilationHeight, dw: g.dilationWidth, pt: g.padTop, pl: g.padLeft, relu: relu ? 1 : 0,
  };
  module.split('conv2d', parts, shared, (part) => {
    const [p0, p1] = partOf(pixels, parts, part, 4);
    return { ptrs: scratchAt + part * slots * 4, p0, p1 };
  });
  wasm.disposeData(scratch.dataId);
  return out;
}

/**
 * conv2d run as out[r] = a[r]·B over the rows of a [rows, K] matrix: a 1×1 convolution of K
 * channels into N. These are the arguments every part shares; each part gives x (a's rows),
 * packed (B as [N/8][K][8]), out, ptrs (4 pointer slots) and its rows [p0, p1). `zeros` is K
 * zeros (never read: a 1×1 unpadded convolution has no taps in padding). Offsets in bytes.
 */
export function rowProductArgs(zeros: number, k: number, n: number): SharedArgs<'conv2d', 'x' | 'packed' | 'out' | 'ptrs' | 'p0' | 'p1'> {
  return { bias: 0, zeros, H: 1, W: 1, Ci: k, OH: 1, OW: 1, Co: n, KH: 1, KW: 1, sh: 1, sw: 1, dh: 1, dw: 1, pt: 0, pl: 0, relu: 0 };
}

/**
 * A stride-1 3×3 convolution as Winograd F(2×2, 3×3) (csrc/kernels.c): filter and input tiles
 * transformed, 16 matrix products through conv2d as 1×1 convolutions (one split call for all of
 * them), then the output transform with bias and ReLU. `filter` is the forward HWIO filter;
 * `rotate` convolves with its 180°-rotated, channel-swapped form (the input gradient).
 */
function runWinograd(
  wasm: BackendWasm,
  module: SimdModule,
  x: TensorInfo,
  filter: TensorInfo,
  rotate: boolean,
  bias: TensorInfo | undefined,
  relu: boolean,
  g: ConvGeometry,
): TensorInfo {
  const tileRows = Math.ceil(g.outHeight / 2);
  const tileColumns = Math.ceil(g.outWidth / 2);
  const tiles = g.batch * tileRows * tileColumns;
  const inC = g.inChannels;
  const outC = g.outChannels;
  const u = wasm.makeOutput([16 * inC * outC], 'float32');
  const v = wasm.makeOutput([16 * tiles * inC], 'float32');
  const m = wasm.makeOutput([16 * tiles * outC], 'float32');
  const chunksPerProduct = module.threads > 1 ? CONV2D_THRESHOLDS.winogradChunksPerProduct : 1;
  const products = 16 * chunksPerProduct;
  // Per product chunk: 4 row pointers for conv2d; then one row of zeros (never read at 1×1, pad 0).
  const scratch = wasm.makeOutput([products * 4 + inC], 'float32');
  const out = wasm.makeOutput([g.batch, g.outHeight, g.outWidth, outC], 'float32');
  const [filterIn, filterOut] = [filter.shape[2], filter.shape[3]];
  module.call('winograd_filter', { w: heapByteOffset(wasm, filter), packed: heapByteOffset(wasm, u), Ci: filterIn, Co: filterOut, rotate: rotate ? 1 : 0 });
  const tileParts = chunkCount(module, tiles, CONV2D_THRESHOLDS.minWinogradTilesPerChunk);
  const tilesShared = { H: g.inHeight, W: g.inWidth, C: inC, TH: tileRows, TW: tileColumns, T: tiles, pt: g.padTop, pl: g.padLeft };
  module.split('winograd_input', tileParts, { x: heapByteOffset(wasm, x), V: heapByteOffset(wasm, v), ...tilesShared }, (part) => {
    const [t0, t1] = partOf(tiles, tileParts, part);
    return { t0, t1 };
  });
  const [uAt, vAt, mAt, scratchAt] = [heapByteOffset(wasm, u), heapByteOffset(wasm, v), heapByteOffset(wasm, m), heapByteOffset(wasm, scratch)];
  const zerosAt = scratchAt + products * 16;
  wholeHeapF32(wasm).fill(0, zerosAt / 4, zerosAt / 4 + inC);
  // Product `position` of the 16: V's plane × U's plane → M's plane, in chunksPerProduct row ranges.
  module.split('conv2d', products, rowProductArgs(zerosAt, inC, outC), (part) => {
    const position = Math.floor(part / chunksPerProduct);
    const [p0, p1] = partOf(tiles, chunksPerProduct, part % chunksPerProduct, 4);
    return {
      x: vAt + position * tiles * inC * 4, packed: uAt + position * outC * inC * 4, out: mAt + position * tiles * outC * 4,
      ptrs: scratchAt + part * 16, p0, p1,
    };
  });
  const outputShared = {
    M: mAt, bias: bias === undefined ? 0 : heapByteOffset(wasm, bias), y: heapByteOffset(wasm, out), OH: g.outHeight, OW: g.outWidth, Co: outC,
    TH: tileRows, TW: tileColumns, T: tiles, relu: relu ? 1 : 0,
  };
  module.split('winograd_output', tileParts, outputShared, (part) => {
    const [t0, t1] = partOf(tiles, tileParts, part);
    return { t0, t1 };
  });
  for (const t of [u, v, m, scratch]) wasm.disposeData(t.dataId);
  return out;
}

function packFilter(wasm: BackendWasm, module: SimdModule, filter: TensorInfo, rotate: boolean): TensorInfo {
  const [kh, kw, ci, co] = filter.shape;
  const packed = wasm.makeOutput([kh * kw * ci * co], 'float32');
  module.call('pack_filter', { w: heapByteOffset(wasm, filter), packed: heapByteOffset(wasm, packed), KH: kh, KW: kw, Ci: ci, Co: co, rotate: rotate ? 1 : 0 });
  return packed;
}

/** Forward convolution (with optional bias and ReLU), or undefined when the module does not apply. */
export function conv2DForwardSimd(
  wasm: BackendWasm,
  x: TensorInfo,
  filter: TensorInfo,
  info: backend_util.Conv2DInfo,
  bias?: TensorInfo,
  relu = false,
): TensorInfo | undefined {
  const module = simdModuleFor(wasm);
  if (module === null || info.dataFormat !== 'channelsLast' || !allFloat32(x, filter, ...(bias ? [bias] : []))) return undefined;
  const geometry: ConvGeometry = {
    batch: info.batchSize,
    inHeight: info.inHeight, inWidth: info.inWidth, inChannels: info.inChannels,
    outHeight: info.outHeight, outWidth: info.outWidth, outChannels: info.outChannels,
    filterHeight: info.filterHeight, filterWidth: info.filterWidth,
    strideHeight: info.strideHeight, strideWidth: info.strideWidth,
    dilationHeight: info.dilationHeight, dilationWidth: info.dilationWidth,
    padTop: info.padInfo.top, padLeft: info.padInfo.left,
  };
  const path = conv2DModulePath(geometry, bias === undefined || util.sizeFromShape(bias.shape) === info.outChannels);
  if (path === 'stock') return undefined;
  if (path === 'module-winograd') return runWinograd(wasm, module, x, filter, false, bias, relu, geometry);
  const packed = packFilter(wasm, module, filter, false);
  const out = runConv(wasm, module, x, packed, bias, relu, geometry);
  wasm.disposeData(packed.dataId);
  return out;
}

/**
 * dx in the module when conv2DInputGradientPath says 'module' (else undefined): dy convolved with the filter rotated by 180° (channels
 * swapped), padded by (KH−1)·dh − padTop on top and likewise on the left, read in place.
 */
export function conv2DInputGradientSimd(
  wasm: BackendWasm,
  dy: TensorInfo,
  filter: TensorInfo,
  info: backend_util.Conv2DInfo,
): TensorInfo | undefined {
  const module = simdModuleFor(wasm);
  const path = conv2DInputGradientPath({
    channelsLast: info.dataFormat === 'channelsLast', float32: allFloat32(dy, filter), module: module !== null,
    strideHeight: info.strideHeight, strideWidth: info.strideWidth, inChannels: info.inChannels,
  });
  if (path !== 'module' || module === null) return undefined;
  const geometry: ConvGeometry = {
    batch: info.batchSize,
    inHeight: info.outHeight, inWidth: info.outWidth, inChannels: info.outChannels,
    outHeight: info.inHeight, outWidth: info.inWidth, outChannels: info.inChannels,
    filterHeight: info.filterHeight, filterWidth: info.filterWidth,
    strideHeight: 1, strideWidth: 1,
    dilationHeight: info.dilationHeight, dilationWidth: info.dilationWidth,
    padTop: (info.filterHeight - 1) * info.dilationHeight - info.padInfo.top,
    padLeft: (info.filterWidth - 1) * info.dilationWidth - info.padInfo.left,
  };
  // inChannels % 8 = 0 was checked, so the rotated convolution's Co is a multiple of 8: never 'stock'.
  if (conv2DModulePath(geometry) === 'module-winograd') return runWinograd(wasm, module, dy, filter, true, undefined, false, geometry);
  const packed = packFilter(wasm, module, filter, true);
  const out = runConv(wasm, module, dy, packed, undefined, false, geometry);
  wasm.disposeData(packed.dataId);
  return out;
}

/**
 * dW = Σ over pixels of x (shifted per tap) ⊗ dy in the module (NHWC float32, Co a multiple of
 * 8: see conv2DFilterGradientPath): as a convolution, or by the direct loop (output tiles split
 * across threads).
 */
export function conv2DFilterGradientSimd(
  wasm: BackendWasm,
  module: SimdModule,
  x: TensorInfo,
  dy: TensorInfo,
  info: backend_util.Conv2DInfo,
  path: 'module-as-convolution' | 'module-direct',
): TensorInfo {
  if (path === 'module-as-convolution') return filterGradientAsConvolution(wasm, module, x, dy, info);
  const { batchSize, inHeight, inWidth, inChannels, outHeight, outWidth, outChannels, filterHeight, filterWidth } = info;
  const out = wasm.makeOutput([filterHeight, filterWidth, inChannels, outChannels], 'float32');
  (wasm.typedArrayFromHeap(out) as Float32Array).fill(0);
  const perSample = (inHeight * inWidth * inChannels + outHeight * outWidth * outChannels) * 4;
  const chunk = Math.max(1, Math.floor(FILTER_GRADIENT_THRESHOLDS.chunkBytes / perSample));
  const tiles = (outChannels / 8) * filterHeight * filterWidth * Math.ceil(inChannels / 4);
  const parts = chunkCount(module, tiles);
  const shared = {
    x: heapByteOffset(wasm, x), dy: heapByteOffset(wasm, dy), dwOut: heapByteOffset(wasm, out),
    N: batchSize, H: inHeight, W: inWidth, Ci: inChannels, OH: outHeight, OW: outWidth, Co: outChannels, KH: filterHeight, KW: filterWidth,
    sh: info.strideHeight, sw: info.strideWidth, dh: info.dilationHeight, dw: info.dilationWidth, pt: info.padInfo.top, pl: info.padInfo.left,
    chunkN: chunk,
  };
  module.split('conv2d_filter_grad', parts, shared, (part) => {
    const [t0, t1] = partOf(tiles, parts, part, 1);
    return { t0, t1 };
  });
  return out;
}

/**
 * The filter gradient as a convolution with batch and channels swapped:
 *   dW[kh, kw, ci, co] = Σ_{oh, ow, n} xT[ci, kh·dh + oh·sh − pt, kw·dw + ow·sw − pl, n] · dy[n, oh, ow, co]
 * i.e. conv2d of xT = x as [Ci, H, W, N] with dy as an OH×OW filter of N input channels
 * (stride = the forward dilation, dilation = the forward stride), giving [Ci, KH, KW, Co].
 */
function filterGradientAsConvolution(wasm: BackendWasm, module: SimdModule, x: TensorInfo, dy: TensorInfo, info: backend_util.Conv2DInfo): TensorInfo {
  const { batchSize, inHeight, inWidth, inChannels, outHeight, outWidth, outChannels, filterHeight, filterWidth } = info;
  const positions = inHeight * inWidth;
  const rows = outHeight * outWidth;
  const xT = wasm.makeOutput([inChannels, inHeight, inWidth, batchSize], 'float32');
  const packed = wasm.makeOutput([rows * batchSize * outChannels], 'float32');
  const layoutParts = chunkCount(module, positions, FILTER_GRADIENT_THRESHOLDS.minRowsPerLayoutChunk);
  module.split('to_channel_major', layoutParts, { x: heapByteOffset(wasm, x), xT: heapByteOffset(wasm, xT), N: batchSize, HW: positions, Ci: inChannels }, (part) => {
    const [hw0, hw1] = partOf(positions, layoutParts, part);
    return { hw0, hw1 };
  });
  const packParts = chunkCount(module, rows, FILTER_GRADIENT_THRESHOLDS.minRowsPerLayoutChunk);
  module.split('pack_rows_as_filter', packParts, { dy: heapByteOffset(wasm, dy), packed: heapByteOffset(wasm, packed), N: batchSize, S: rows, Co: outChannels }, (part) => {
    const [s0, s1] = partOf(rows, packParts, part);
    return { s0, s1 };
  });
  const gradT = runConv(wasm, module, xT, packed, undefined, false, {
    batch: inChannels, inHeight, inWidth, inChannels: batchSize,
    outHeight: filterHeight, outWidth: filterWidth, outChannels,
    filterHeight: outHeight, filterWidth: outWidth,
    strideHeight: info.dilationHeight, strideWidth: info.dilationWidth,
    dilationHeight: info.strideHeight, dilationWidth: info.strideWidth,
    padTop: info.padInfo.top, padLeft: info.padInfo.left,
  });
  wasm.disposeData(xT.dataId);
  wasm.disposeData(packed.dataId);
  // [Ci, KH, KW, Co] → [KH, KW, Ci, Co]: one copy of Co values per (ci, tap).
  const grad = wasm.makeOutput([filterHeight, filterWidth, inChannels, outChannels], 'float32');
  const heap = wholeHeapF32(wasm);
  const from = heapFloatOffset(wasm, gradT);
  const to = heapFloatOffset(wasm, grad);
  const taps = filterHeight * filterWidth;
  for (let ci = 0; ci < inChannels; ci++) {
    for (let t = 0; t < taps; t++) {
      const src = from + (ci * taps + t) * outChannels;
      heap.copyWithin(to + (t * inChannels + ci) * outChannels, src, src + outChannels);
    }
  }
  wasm.disposeData(gradT.dataId);
  return grad;
}

interface ConvAttrs {
  strides: [number, number] | number;
  pad: 'valid' | 'same' | number | backend_util.ExplicitPadding;
  dataFormat: 'NHWC' | 'NCHW';
  dilations: [number, number] | number;
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
  activation?: string;
}

function forwardInfo(x: TensorInfo, filter: TensorInfo, attrs: ConvAttrs): backend_util.Conv2DInfo {
  return backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number],
    filter.shape as [number, number, number, number],
    attrs.strides,
    attrs.dilations,
    attrs.pad,
    attrs.dimRoundingMode,
    false,
    backend_util.convertConv2DDataFormat(attrs.dataFormat),
  );
}

export const conv2DWasm: KernelFunc = ({ inputs, backend, attrs }) => {
  const wasm = backend as BackendWasm;
  const { x, filter } = inputs as { x: TensorInfo; filter: TensorInfo };
  const fast = conv2DForwardSimd(wasm, x, filter, forwardInfo(x, filter, attrs as unknown as ConvAttrs));
  return fast ?? runStockWasmKernel(wasm, Conv2D, inputs, attrs);
};

export const fusedConv2DWasm: KernelFunc = ({ inputs, backend, attrs }) => {
  const wasm = backend as BackendWasm;
  const { x, filter, bias, preluActivationWeights } = inputs as Record<string, TensorInfo | undefined>;
  const { activation } = attrs as unknown as ConvAttrs;
  if (preluActivationWeights === undefined && (activation === 'linear' || activation === 'relu' || activation === undefined)) {
    const info = forwardInfo(x!, filter!, attrs as unknown as ConvAttrs);
    const fast = conv2DForwardSimd(wasm, x!, filter!, info, bias, activation === 'relu');
    if (fast !== undefined) return fast;
  }
  return runStockWasmKernel(wasm, FusedConv2D, inputs, attrs);
};

export const conv2DWasmConfig: KernelConfig = { kernelName: Conv2D, backendName: 'wasm', kernelFunc: conv2DWasm };
export const fusedConv2DWasmConfig: KernelConfig = { kernelName: FusedConv2D, backendName: 'wasm', kernelFunc: fusedConv2DWasm };
