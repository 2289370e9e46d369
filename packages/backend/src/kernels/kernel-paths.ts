/**
 * Which implementation each replaced wasm kernel runs, and every number behind those choices:
 * one section per kernel, each with its condition → path table (first matching row wins) and
 * its thresholds. The kernels call the `…Path` functions here and branch on the name they get.
 *
 * Every threshold says where it comes from. "Measured" quotes the measurement the threshold was
 * set from, as recorded when it was set (in a code comment or commit message; the raw timings
 * were not kept, and `pnpm bench:step` is the tool to re-measure on your machine). "Not
 * measured" means no measurement was recorded: the number is a design estimate or a bound on
 * memory, and re-measuring it is fair game.
 */

/** The kernel module (csrc/kernels.c) can run here: created on this backend and not turned off by MM_WASM_KERNELS=xnnpack. */
type ModuleAvailable = boolean;

// ---------------------------------------------------------------------------------------------
// Shared by every module kernel: how a call is cut into chunks for the pool.
// ---------------------------------------------------------------------------------------------

/**
 * Chunks per thread of a split call. Not measured as a number: chosen so that a pool thread the
 * OS wakes late leaves its share to the others (commit "pool hands out chunks dynamically":
 * vanilla step 360 → 334 ms in one session, for the change to dynamic chunks as a whole).
 */
export const CHUNKS_PER_THREAD = 4;

// ---------------------------------------------------------------------------------------------
// Conv2D / FusedConv2D forward (conv2d-simd.ts), and the module part of Conv2DBackpropInput.
// ---------------------------------------------------------------------------------------------
//
//   condition (first match)                                              path
//   FusedConv2D with PReLU or an activation other than linear / relu      stock
//   no module, NCHW, not all float32, Co % 8 ≠ 0, bias ≠ Co values        stock
//   3×3, stride 1, dilation 1, Ci % 4 = 0, Ci ≥ 64, Co % 8 = 0             module-winograd
//   otherwise                                                             module-direct (implicit im2col)

export const CONV2D_THRESHOLDS = {
  /**
   * Input channels from which a stride-1 3×3 convolution runs as Winograd F(2×2, 3×3).
   * Measured: on the benchmark's 7×7 layers, 64 → 128 channels 1.2–1.3× faster than
   * module-direct (forward and input gradient); at 16–32 channels the transforms ate the saving.
   */
  minChannelsForWinograd: 64,
  /** Pixels per pool chunk of module-direct. Not measured (keeps the per-chunk pointer scratch small relative to the work). */
  minPixelsPerChunk: 64,
  /** Winograd tiles per pool chunk of the input/output transforms. Not measured. */
  minWinogradTilesPerChunk: 64,
  /** Chunks per Winograd product (16 products) when there is a pool. Not measured. */
  winogradChunksPerProduct: 2,
} as const;

export type Conv2DModulePath = 'stock' | 'module-winograd' | 'module-direct';

/** Sizes of one convolution as the module's conv2d sees it (the input gradient swaps roles). */
export interface ConvGeometry {
  batch: number; inHeight: number; inWidth: number; inChannels: number;
  outHeight: number; outWidth: number; outChannels: number;
  filterHeight: number; filterWidth: number;
  strideHeight: number; strideWidth: number; dilationHeight: number; dilationWidth: number;
  padTop: number; padLeft: number;
}

/** The module's path for a convolution it could run (NHWC float32, module present); see the table above. */
export function conv2DModulePath(g: ConvGeometry, biasMatches = true): Conv2DModulePath {
  if (g.outChannels % 8 !== 0 || !biasMatches) return 'stock';
  const winograd =
    g.filterHeight === 3 && g.filterWidth === 3 && g.strideHeight === 1 && g.strideWidth === 1 &&
    g.dilationHeight === 1 && g.dilationWidth === 1 && g.inChannels % 4 === 0 &&
    g.inChannels >= CONV2D_THRESHOLDS.minChannelsForWinograd;
  return winograd ? 'module-winograd' : 'module-direct';
}

// ---------------------------------------------------------------------------------------------
// Conv2DBackpropInput (conv2d-backprop-input.ts)
// ---------------------------------------------------------------------------------------------
//
//   condition (first match)                                  path
//   NCHW or not float32                                      stock (tfjs-backend-wasm's naive loop)
//   module, stride 1, Ci % 8 = 0                             module (then conv2DModulePath of the rotated convolution)
//   otherwise                                                spread-dy: dy spread by the stride in JS, then Conv2D
//                                                            (this package's, so module or XNNPACK)

export type Conv2DInputGradientPath = 'stock' | 'module' | 'spread-dy';

export function conv2DInputGradientPath(c: {
  channelsLast: boolean; float32: boolean; module: ModuleAvailable; strideHeight: number; strideWidth: number; inChannels: number;
}): Conv2DInputGradientPath {
  if (!c.channelsLast || !c.float32) return 'stock';
  if (c.module && c.strideHeight === 1 && c.strideWidth === 1 && c.inChannels % 8 === 0) return 'module';
  return 'spread-dy';
}

// ---------------------------------------------------------------------------------------------
// Conv2DBackpropFilter (conv2d-backprop-filter.ts; tfjs-backend-wasm 4.22 has none)
// ---------------------------------------------------------------------------------------------
//
//   condition (first match)                                      path
//   not float32                                                  error (no stock kernel to fall back to)
//   NHWC, module, Co % 8 = 0, Ci ≥ 8                             module-as-convolution (batch and channels swapped)
//   NHWC, module, Co % 8 = 0                                     module-direct (4×8 output tiles)
//   NHWC, stride 1 along the width, OW ≥ 16                      xnnpack-im2col (block copies, one BatchMatMul)
//   NHWC, the swapped convolution's padding ≥ 0                  xnnpack-swapped-conv
//   otherwise (NCHW, padding the forward pass never read)        js-im2col (element loop, BatchMatMul)

export const FILTER_GRADIENT_THRESHOLDS = {
  /**
   * Input channels from which module-as-convolution beats module-direct. Measured: 1.1–2×
   * faster on every shape tried (7×7 to 56×56, 16 to 256 channels); below 8 (an RGB or gray
   * first layer) that convolution has only Ci·KH·KW output pixels to share and the direct loop won.
   */
  minChannelsForConvolutionForm: 8,
  /**
   * Output width from which the im2col block copies beat the swapped XNNPACK convolution.
   * Measured on the CG-MNIST layers: 28-wide rows 3.5× faster as a product, 7-wide rows 1.5× slower.
   */
  minRowForBlockCopies: 16,
  /**
   * Bytes of x and dy per sample chunk that module-direct's tiles re-read. Not measured: sized
   * as a share of a typical L2 cache.
   */
  chunkBytes: 96 * 1024,
  /** Upper bound on one im2col buffer (floats); larger problems are split along the batch. A memory bound, not a speed measurement. */
  maxColumnFloats: 1 << 24,
  /** Positions / rows per pool chunk of the layout changes of module-as-convolution. Not measured. */
  minRowsPerLayoutChunk: 4,
} as const;

export type Conv2DFilterGradientPath =
  | 'module-as-convolution'
  | 'module-direct'
  | 'xnnpack-im2col'
  | 'xnnpack-swapped-conv'
  | 'js-im2col';

export function conv2DFilterGradientPath(c: {
  channelsLast: boolean; module: ModuleAvailable; inChannels: number; outChannels: number;
  strideWidth: number; outWidth: number; swappedPaddingNonNegative: boolean;
}): Conv2DFilterGradientPath {
  if (!c.channelsLast) return 'js-im2col';
  if (c.module && c.outChannels % 8 === 0) {
    return c.inChannels >= FILTER_GRADIENT_THRESHOLDS.minChannelsForConvolutionForm ? 'module-as-convolution' : 'module-direct';
  }
  if (c.strideWidth === 1 && c.outWidth >= FILTER_GRADIENT_THRESHOLDS.minRowForBlockCopies) return 'xnnpack-im2col';
  return c.swappedPaddingNonNegative ? 'xnnpack-swapped-conv' : 'js-im2col';
}

// ---------------------------------------------------------------------------------------------
// Add, Sub, Multiply, Square, Step (elementwise-simd.ts)
// ---------------------------------------------------------------------------------------------
//
//   condition (first match)                                              path
//   not float32, < minSize output values, no module                      stock
//   Step with alpha ≠ 0                                                  stock
//   same shape (binary), or any unary                                    module-flat
//   rows broadcast ([outer, mid, C] plan, see broadcastRows), C ≥ 4      module-rows
//   otherwise                                                            stock

export const ELEMENTWISE_THRESHOLDS = {
  /**
   * Output values from which the module (threaded SIMD) replaces the stock single-threaded
   * kernel. Not measured as a number: below it the pool hand-off was judged to cost more than
   * it saves. (The recorded measurement is of the change as a whole: stock tfjs-wasm broadcasts
   * a channel vector ≈ 4× slower than a same-shape op.)
   */
  minSize: 16384,
  /** Values per pool chunk. Not measured. */
  minValuesPerChunk: 8192,
  /** Channels a row broadcast needs (one SIMD vector). Not measured: shorter rows are scalar loops. */
  minBroadcastChannels: 4,
} as const;

export type ElementwisePath = 'stock' | 'module-flat' | 'module-rows';

export function binaryPath(c: { float32: boolean; module: ModuleAvailable; size: number; sameShape: boolean; broadcastChannels: number | null }): ElementwisePath {
  if (!c.float32 || !c.module || c.size < ELEMENTWISE_THRESHOLDS.minSize) return 'stock';
  if (c.sameShape) return 'module-flat';
  return c.broadcastChannels !== null && c.broadcastChannels >= ELEMENTWISE_THRESHOLDS.minBroadcastChannels ? 'module-rows' : 'stock';
}

export function unaryPath(c: { float32: boolean; module: ModuleAvailable; size: number; attrsSupported: boolean }): ElementwisePath {
  return c.float32 && c.module && c.attrsSupported && c.size >= ELEMENTWISE_THRESHOLDS.minSize ? 'module-flat' : 'stock';
}

// ---------------------------------------------------------------------------------------------
// Sum, Mean (reduce.ts)
// ---------------------------------------------------------------------------------------------
//
//   condition (first match)                                                  path
//   not float32, empty, axes not one contiguous block before the last axis   stock (transposes first; fine for these)
//   module, ≥ ELEMENTWISE_THRESHOLDS.minSize values                          module (sum_middle)
//   outer > maxBatchedProducts, or reduce·inner < minProductSize             stock
//   otherwise                                                                xnnpack-avg-pool (reduce×1 AvgPool)

export const REDUCE_THRESHOLDS = {
  /**
   * Above this many outer indices the AvgPool path goes to the stock kernel. Not measured as a
   * number: the commit that set it says many tiny batched products are slower than stock.
   */
  maxBatchedProducts: 1024,
  /** Below this many values per pooled image, stock. Not measured (same commit as above). */
  minProductSize: 256,
  /** Rows of the reduced axis per pool chunk when threads split that axis. Not measured (sum_middle's block is 128 rows). */
  minReducedRowsPerChunk: 128,
} as const;

export type ReducePath = 'stock' | 'module' | 'xnnpack-avg-pool';

export function reducePath(c: { float32: boolean; middleAxes: boolean; size: number; module: ModuleAvailable; outer: number; reduce: number; inner: number }): ReducePath {
  if (!c.float32 || !c.middleAxes || c.size === 0) return 'stock';
  if (c.module && c.size >= ELEMENTWISE_THRESHOLDS.minSize) return 'module';
  if (c.outer > REDUCE_THRESHOLDS.maxBatchedProducts || c.reduce * c.inner < REDUCE_THRESHOLDS.minProductSize) return 'stock';
  return 'xnnpack-avg-pool';
}

// ---------------------------------------------------------------------------------------------
// BatchMatMul (batch-mat-mul.ts)
// ---------------------------------------------------------------------------------------------
//
//   condition (first match)                                                   path
//   module, float32, same rank and batch shape, N % 8 = 0, M, K > 0           module (packed once, 1×1 conv2d)
//   neither operand transposed, or not float32, or rank < 2                   stock
//   otherwise                                                                 transpose-then-stock
//                                                                              (measured: stock is 20–25× slower
//                                                                               with a transposed operand, 128³: ≈ 4 ms vs 0.2 ms)

export const MATMUL_THRESHOLDS = {
  /** Rows of the left operand per pool chunk. Not measured. */
  minRowsPerChunk: 16,
} as const;

export type BatchMatMulPath = 'module' | 'stock' | 'transpose-then-stock';

export function batchMatMulPath(c: {
  module: ModuleAvailable; float32: boolean; rank: number; sameRankAndBatch: boolean; m: number; k: number; n: number;
  innerMatches: boolean; transposeA: boolean; transposeB: boolean;
}): BatchMatMulPath {
  if (c.module && c.float32 && c.rank >= 2 && c.sameRankAndBatch && c.n % 8 === 0 && c.innerMatches && c.m > 0 && c.k > 0) return 'module';
  if ((!c.transposeA && !c.transposeB) || !c.float32 || c.rank < 2) return 'stock';
  return 'transpose-then-stock';
}

// ---------------------------------------------------------------------------------------------
// MaxPoolGrad (max-pool-grad.ts)
// ---------------------------------------------------------------------------------------------
//
//   condition (first match)                                             path
//   not float32                                                         stock
//   2×2, stride 2, no padding, windows inside x, module                 module
//   2×2, stride 2, no padding, windows inside x                         js-2x2
//   otherwise                                                           js-windows (one pass over the windows)

export type MaxPoolGradPath = 'stock' | 'module' | 'js-2x2' | 'js-windows';

export function maxPoolGradPath(c: { float32: boolean; tiled2x2: boolean; module: ModuleAvailable }): MaxPoolGradPath {
  if (!c.float32) return 'stock';
  if (!c.tiled2x2) return 'js-windows';
  return c.module ? 'module' : 'js-2x2';
}

// ---------------------------------------------------------------------------------------------
// FusedBatchNorm (batch-norm.ts)
// ---------------------------------------------------------------------------------------------
//
//   condition (first match)                                           path
//   x not float32 or a scalar, or a statistic not per channel         stock
//   module                                                            module (x·a + b, one pass)
//   otherwise                                                         stock-multiply-add (two broadcasting stock kernels)
//
// Rows per pool chunk: ⌈ELEMENTWISE_THRESHOLDS.minValuesPerChunk / C⌉, as for row broadcasts.

export type BatchNormPath = 'stock' | 'module' | 'stock-multiply-add';

export function batchNormPath(c: { supported: boolean; module: ModuleAvailable }): BatchNormPath {
  if (!c.supported) return 'stock';
  return c.module ? 'module' : 'stock-multiply-add';
}

// ---------------------------------------------------------------------------------------------
// Conv3D and its gradients (conv3d-wasm.ts): no path choice by speed beyond these two.
// ---------------------------------------------------------------------------------------------
//
//   1×1×1, stride 1, unpadded        one matrix product (no vol2col)
//   otherwise                         vol2col in JS + BatchMatMul, in row chunks of at most maxColumnFloats

export const CONV3D_THRESHOLDS = {
  /** Upper bound on one vol2col buffer (floats). A memory bound, not a speed measurement. */
  maxColumnFloats: 1 << 22,
  /** SplitV copies blocks shorter than this element by element. Not measured. */
  minBlockForCopy: 16,
} as const;
