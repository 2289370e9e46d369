import {
  add,
  backend_util,
  clone,
  div,
  engine,
  FusedBatchNorm,
  getBackend,
  getGradient,
  getKernel,
  Mean,
  mul,
  neg,
  registerGradient,
  reshape,
  rsqrt,
  scalar,
  square,
  sub,
  sum,
  Sum,
  tile,
  util,
  type GradConfig,
  type NamedAttrMap,
  type Tensor,
} from '@tensorflow/tfjs-core';
import { SUM_CENTERED_PRODUCT } from './reduce.js';
import { reluGradient } from './relu-gradient.js';

/**
 * Gradients of Sum and Mean that broadcast dy with one Tile instead of tfjs-core's
 * `mul(dy, ones(x.shape))` (and `div(…, n)` for Mean): the same values (dy·1 = dy, and
 * (dy·1)/n = dy/n exactly), with one full-size kernel instead of three. Batch-norm statistics
 * (tf.moments) and global average pooling go through these on every training step.
 */
function broadcastGradient(kernelName: typeof Sum | typeof Mean): GradConfig {
  return {
    kernelName,
    inputsToSave: ['x'],
    gradFunc: (dy: Tensor | Tensor[], saved: Tensor[], attrs: NamedAttrMap) => {
      const [x] = saved;
      const axes = util.parseAxisParam(attrs.axis as number | number[], x.shape);
      const keptShape = x.shape.map((size, d) => (axes.includes(d) ? 1 : size));
      const reps = x.shape.map((size, d) => (axes.includes(d) ? size : 1));
      const reduceSize = axes.reduce((n, d) => n * x.shape[d], 1);
      return {
        x: () => {
          const scaled = kernelName === Mean ? div(dy as Tensor, reduceSize) : (dy as Tensor);
          return tile(reshape(scaled, keptShape), reps);
        },
      };
    },
  };
}

/**
 * Gradient of FusedBatchNorm (y = (x − mean)·k + offset, k = scale/√(variance + ε)) in five
 * full-size passes instead of tfjs-core's fourteen: with S₁ = Σ dy and S₂ = Σ dy·(x − mean)
 * over the broadcast axes,
 *   dx = dy·k,  dmean = −k·S₁,  dvariance = −½·k·(variance + ε)⁻¹·S₂,  dscale = S₂/√(variance + ε),  doffset = S₁.
 * tfjs-core tiles 1/√(variance + ε) to the full shape and multiplies dy by the per-channel
 * factors before each sum. The values agree to float32 rounding (sums are taken before the
 * per-channel factors are applied). Batch-norm layers in training reach this on every step.
 */
export const leanBatchNormGradient: GradConfig = {
  kernelName: FusedBatchNorm,
  inputsToSave: ['x', 'mean', 'variance', 'scale'],
  gradFunc: (dy: Tensor | Tensor[], saved: Tensor[], attrs: NamedAttrMap) => {
    const [x, mean, variance, scale] = saved;
    const g = dy as Tensor;
    const epsilon = (attrs as { varianceEpsilon: number }).varianceEpsilon;
    const axes = backend_util.getReductionAxes(mean.shape, x.shape);
    const reduce = (t: Tensor) => reshape(axes.length > 0 ? sum(t, axes) : t, mean.shape);
    const inverseStd = rsqrt(add(variance, scalar(epsilon)));
    const factor = scale == null ? inverseStd : mul(inverseStd, scale);
    // Shared by several inputs' gradients, so computed here (the backprop's scope disposes them).
    const sumDy = reduce(g);
    // On wasm, one read-only pass of this package's kernel instead of three full-size ops.
    const sumDyCentered =
      axes.length > 0 && getKernel(SUM_CENTERED_PRODUCT, getBackend()) !== undefined
        ? reshape(engine().runKernel(SUM_CENTERED_PRODUCT, { x, dy: g, mean }, { axes } as never) as Tensor, mean.shape)
        : reduce(mul(g, sub(x, mean)));
    return {
      x: () => mul(g, factor),
      mean: () => neg(mul(factor, sumDy)),
      variance: () => mul(mul(scalar(-0.5), mul(factor, square(inverseStd))), sumDyCentered),
      scale: () => mul(inverseStd, sumDyCentered),
      offset: () => clone(sumDy),
    };
  },
};

export const FAST_GRADIENTS: readonly GradConfig[] = [broadcastGradient(Sum), broadcastGradient(Mean), leanBatchNormGradient, reluGradient];

const replacedGradients = new Map<string, GradConfig | undefined>();

/** Installs the faster gradients (idempotent). Returns the kernel names whose gradient it replaced. */
export function registerFastGradients(): string[] {
  const replaced: string[] = [];
  for (const config of FAST_GRADIENTS) {
    const current = getGradient(config.kernelName);
    if (current?.gradFunc === config.gradFunc) continue;
    if (!replacedGradients.has(config.kernelName)) replacedGradients.set(config.kernelName, current);
    registerGradient(config);
    replaced.push(config.kernelName);
  }
  return replaced;
}

/** Puts tfjs-core's own gradients back. */
export function restoreStockGradients(): string[] {
  const restored: string[] = [];
  for (const [name, stock] of replacedGradients) {
    if (stock !== undefined) registerGradient(stock);
    restored.push(name);
  }
  replacedGradients.clear();
  return restored;
}
