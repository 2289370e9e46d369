import * as tf from '@tensorflow/tfjs-core';

/** Mean softmax cross-entropy of logits against one-hot labels. */
export function crossEntropy(labels: tf.Tensor2D, logits: tf.Tensor): tf.Scalar {
  return tf.losses.softmaxCrossEntropy(labels, logits) as tf.Scalar;
}

/** Per-sample softmax cross-entropy [B]. */
export function crossEntropyPerSample(labels: tf.Tensor2D, logits: tf.Tensor2D): tf.Tensor1D {
  return tf.neg(tf.sum(tf.mul(labels, tf.logSoftmax(logits)), -1)) as tf.Tensor1D;
}

/** Probability each sample's logits give its true class [B]. */
export function trueClassProbability(labels: tf.Tensor2D, logits: tf.Tensor2D): tf.Tensor1D {
  return tf.sum(tf.mul(labels, tf.softmax(logits)), -1) as tf.Tensor1D;
}

/** Labels as float32 one-hot [B, classes], from class indices [B] or one-hot [B, classes]. */
export function oneHotLabels(labels: tf.Tensor, classes: number): tf.Tensor2D {
  if (labels.rank === 2) return tf.cast(labels, 'float32') as tf.Tensor2D;
  if (labels.rank !== 1) throw new Error(`labels must be class indices [B] or one-hot [B, classes], got shape [${labels.shape}]`);
  return tf.cast(tf.oneHot(tf.cast(labels, 'int32') as tf.Tensor1D, classes), 'float32') as tf.Tensor2D;
}

/** Turns the K heads' logits and one-hot labels into the scalar training loss. */
export interface LossStrategy {
  readonly name: string;
  compute(heads: tf.Tensor2D[], labels: tf.Tensor2D): tf.Scalar;
}

/** L = Σ_k CE(y, ŷ_k) (Eq. 4): each head's mean cross-entropy, summed. */
export const sumOfCrossEntropies: LossStrategy = {
  name: 'sum-ce',
  compute: (heads, labels) => tf.addN(heads.map((h) => crossEntropy(labels, h))) as tf.Scalar,
};

export interface RubiOptions {
  /** Modalities whose heads act as RUBi's bias-only branch. Default: every modality. */
  biasModalities?: number[];
}

/**
 * RUBi (Cadene et al. 2019) adapted to K heads, for Table 1's baseline: for each bias
 * modality b, the fused logits ŷ = mean_k ŷ_k are masked by σ(ŷ_b) and the bias head also
 * learns alone: L = Σ_b [CE(y, ŷ ⊙ σ(ŷ_b)) + CE(y, ŷ_b)]. With every modality as a bias this
 * contains Eq. 4's Σ_k CE(y, ŷ_k). Predictions stay the unmasked ŷ, as in RUBi.
 */
export function rubiLoss(options: RubiOptions = {}): LossStrategy {
  return {
    name: 'rubi',
    compute: (heads, labels) => {
      const biases = options.biasModalities ?? heads.map((_, k) => k);
      for (const b of biases) {
        if (!(b >= 0 && b < heads.length)) throw new Error(`RUBi bias modality ${b} does not exist; the model has ${heads.length} heads`);
      }
      const fused = tf.div(tf.addN(heads), heads.length);
      const terms = biases.flatMap((b) => [crossEntropy(labels, tf.mul(fused, tf.sigmoid(heads[b]))), crossEntropy(labels, heads[b])]);
      return tf.addN(terms) as tf.Scalar;
    },
  };
}
