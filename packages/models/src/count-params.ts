import type { LayersModel } from '@tensorflow/tfjs-layers';

/**
 * Number of scalar weights. 'trainable' matches PyTorch's `sum(p.numel() for p in parameters())`
 * (BatchNorm running statistics are buffers there and non-trainable weights here).
 */
export function countParams(model: LayersModel, which: 'all' | 'trainable' = 'trainable'): number {
  const weights = which === 'trainable' ? model.trainableWeights : model.weights;
  return weights.reduce((sum, w) => sum + w.shape.reduce((a: number, b) => a * (b ?? 1), 1), 0);
}
