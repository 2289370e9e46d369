import {
  div,
  getGradient,
  Mean,
  registerGradient,
  reshape,
  Sum,
  tile,
  util,
  type GradConfig,
  type NamedAttrMap,
  type Tensor,
} from '@tensorflow/tfjs-core';

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

export const FAST_GRADIENTS: readonly GradConfig[] = [broadcastGradient(Sum), broadcastGradient(Mean)];

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
