import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';

/**
 * A learnable synthetic task: 16×16 gray images with one bright 8×8 quadrant plus noise;
 * the label is the quadrant. A convnet must learn spatial filters to solve it.
 */
export function makeQuadrantBatch(batch: number, seed: number): { x: tf.Tensor4D; y: tf.Tensor2D } {
  const size = 16;
  const pixels = new Float32Array(batch * size * size);
  const labels = new Int32Array(batch);
  let state = seed >>> 0 || 1;
  const next = () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
  for (let n = 0; n < batch; n++) {
    const q = Math.floor(next() * 4);
    labels[n] = q;
    const top = q < 2 ? 0 : 8;
    const left = q % 2 === 0 ? 0 : 8;
    for (let i = 0; i < size; i++) {
      for (let j = 0; j < size; j++) {
        const inside = i >= top && i < top + 8 && j >= left && j < left + 8;
        pixels[(n * size + i) * size + j] = (inside ? 0.6 : 0) + 0.4 * next();
      }
    }
  }
  return tf.tidy(() => ({
    x: tf.tensor4d(pixels, [batch, size, size, 1]),
    y: tf.cast(tf.oneHot(tf.tensor1d(labels, 'int32'), 4), 'float32') as tf.Tensor2D,
  }));
}

export function smallConvnet(): tfl.Sequential {
  const model = tfl.sequential();
  model.add(tfl.layers.conv2d({ inputShape: [16, 16, 1], filters: 8, kernelSize: 3, padding: 'same', activation: 'relu' }));
  model.add(tfl.layers.maxPooling2d({ poolSize: 2 }));
  model.add(tfl.layers.conv2d({ filters: 16, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu' }));
  model.add(tfl.layers.globalAveragePooling2d({}));
  model.add(tfl.layers.dense({ units: 4 }));
  return model;
}

export interface SmokeResult {
  losses: number[];
}

/** Trains with plain SGD on fresh batches; every step's tensors are freed before the next. */
export function trainSmoke(steps: number, onStep?: (step: number, loss: number) => void): SmokeResult {
  tf.util.assert(steps > 0, () => `steps must be positive, got ${steps}`);
  const model = smallConvnet();
  const optimizer = tf.train.adam(0.01);
  const losses: number[] = [];
  for (let step = 0; step < steps; step++) {
    const { x, y } = makeQuadrantBatch(32, step + 1);
    const loss = optimizer.minimize(
      () => tf.losses.softmaxCrossEntropy(y, model.apply(x) as tf.Tensor2D) as tf.Scalar,
      true,
    ) as tf.Scalar;
    const value = loss.dataSync()[0];
    tf.dispose([x, y, loss]);
    losses.push(value);
    onStep?.(step, value);
  }
  model.dispose();
  optimizer.dispose();
  return { losses };
}
