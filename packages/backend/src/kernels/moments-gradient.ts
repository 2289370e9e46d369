import * as tf from '@tensorflow/tfjs-core';
import { backend_util, engine, getKernel, Tensor, util } from '@tensorflow/tfjs-core';
import { MEAN_SQUARED_DEVIATION } from './reduce.js';
import { FunctionPatch } from './function-patch.js';
import { host } from '#kernel-host';
import { recordingGradients } from '../tfjs-internals.js';

/**
 * `tf.moments` with a one-pass input gradient, for batch normalisation in training.
 *
 * tfjs-layers' BatchNormalization computes its batch statistics with `tf.moments` (mean, then
 * the mean of (x − mean)²). Differentiated op by op, the input gradient takes about six
 * full-size passes per layer: two Tiles of the broadcast gradients, two multiplies for the
 * square, and the accumulations. With n the reduced size it is simply
 *   dx = dmean/n + 2·dvariance·(x − mean)/n = x·a + b,  a = 2·dvariance/n,  b = dmean/n − a·mean,
 * per channel, which is what this computes (one multiply, one add). The forward pass computes
 * the same mean and variance formulas as tfjs-core's (on wasm the variance in one pass of this
 * package's kernel, elsewhere with the same ops); values and gradients agree to float32 rounding.
 */

type MomentsFn = typeof tf.moments;
type MomentsArgs = Parameters<MomentsFn>;

function momentsWithOnePassGradient(...args: MomentsArgs): ReturnType<MomentsFn> {
  const [x, axis = null, keepDims = false] = args;
  if (!recordingGradients() || !(x instanceof Tensor) || x.dtype !== 'float32' || x.rank === 0) {
    return momentsPatch.stock(...args);
  }
  const axes = util.parseAxisParam(axis ?? x.shape.map((_, d) => d), x.shape);
  const [outShape] = backend_util.computeOutAndReduceShapes(x.shape, axes);
  const keptShape = backend_util.expandShapeToKeepDim(outShape, axes);
  const count = axes.reduce((n, a) => n * x.shape[a], 1);
  // One output only (customGrad's rule): mean and variance stacked along a new first axis.
  const stacked = tf.customGrad(((input: Tensor, save: tf.GradSaveFunc) => {
    const mean = tf.mean(input, axes, true);
    // On wasm, one read-only pass of this package's kernel instead of three full-size ops.
    const variance =
      getKernel(MEAN_SQUARED_DEVIATION, tf.getBackend()) !== undefined
        ? (engine().runKernel(MEAN_SQUARED_DEVIATION, { x: input, mean }, { axes } as never) as Tensor)
        : tf.mean(tf.square(tf.sub(input, mean)), axes, true);
    save([input, mean]);
    return {
      value: tf.stack([mean, variance]),
      gradFunc: (dy: Tensor, saved: Tensor[]) => {
        const [xs, m] = saved;
        const [dMean, dVariance] = tf.unstack(dy);
        const a = tf.mul(dVariance, 2 / count);
        const b = tf.sub(tf.div(dMean, count), tf.mul(a, m));
        return tf.add(tf.mul(xs, a), b);
      },
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0])(x);
  const [mean, variance] = tf.unstack(stacked);
  const shape = keepDims ? keptShape : outShape;
  return { mean: tf.reshape(mean, shape), variance: tf.reshape(variance, shape) };
}

const momentsPatch = new FunctionPatch<MomentsFn>(host.tfjsCoreExports, 'moments', momentsWithOnePassGradient);

/**
 * Installs the one-pass moments gradient (idempotent). Returns false where tfjs-core's exports
 * cannot be patched (an ES-module bundle); training then keeps tfjs-core's path.
 */
export function useOnePassMomentsGradient(): boolean {
  return momentsPatch.install();
}

/** Puts tfjs-core's `moments` back. */
export function restoreStockMoments(): void {
  momentsPatch.restore();
}

/** tfjs-core's `moments` as currently installed (stock or this one), for comparisons in tests. */
export function currentMoments(): MomentsFn {
  return (host.tfjsCoreExports()?.moments as MomentsFn | undefined) ?? tf.moments;
}
