import type * as tf from '@tensorflow/tfjs-core';

/**
 * A new optimizer of the same class and settings as `optimizer` (its current learning rate
 * included), with no slots and iteration 0: for methods that train temporary copies of a model
 * without touching the run's optimizer state. Uses the tfjs serialization pair
 * getConfig()/fromConfig(), which every built-in optimizer implements.
 */
export function freshOptimizerLike(optimizer: tf.Optimizer, purpose: string): tf.Optimizer {
  const cls = optimizer.constructor as tf.serialization.SerializableConstructor<tf.Optimizer>;
  const config = optimizer.getConfig();
  let copy: tf.Optimizer;
  try {
    copy = cls.fromConfig(cls, config);
  } catch (error) {
    throw new Error(`${purpose} needs a fresh optimizer like yours, made with ${optimizer.getClassName()}.fromConfig(getConfig()), which failed: ${(error as Error).message}. Use a tfjs built-in optimizer (tf.train.sgd, momentum, adam, …).`);
  }
  if (copy.getClassName() !== optimizer.getClassName() || JSON.stringify(copy.getConfig()) !== JSON.stringify(config)) {
    disposeOptimizer(copy);
    throw new Error(`${purpose} needs a fresh optimizer like yours, but ${optimizer.getClassName()}.fromConfig(getConfig()) does not rebuild it (got ${copy.getClassName()} with ${JSON.stringify(copy.getConfig())}). Use a tfjs built-in optimizer or implement getConfig/fromConfig.`);
  }
  return copy;
}

/** Frees an optimizer's slots and scalars, including the learning-rate scalar tfjs 4.22's MomentumOptimizer.dispose() leaves behind. */
export function disposeOptimizer(optimizer: tf.Optimizer): void {
  optimizer.dispose();
  const c = (optimizer as unknown as { c?: tf.Tensor }).c;
  if (c && !c.isDisposed) c.dispose();
}
