import * as tf from '@tensorflow/tfjs-core';
import type { ForwardOutputs, ModelView } from './model-view.js';

let instances = 0;

/** tfjs registers variables by name once per process: every trainer's heads get their own. */
function uniqueName(name: string): string {
  return `${name}_${++instances}`;
}

/**
 * One linear head per modality on its features h_m, added by the trainer for methods that need
 * uni-modal predictions the model does not have (MMPareto, Gradient Blending, UME on a late
 * model). They train with the model; they are saved in the trainer's checkpoint.
 */
export class AuxiliaryHeads {
  /** Kernel and bias of each modality, in that order; checkpoints key them by this position, not by name. */
  readonly variables: tf.Variable[];
  private readonly kernels: tf.Variable[];
  private readonly biases: tf.Variable[];

  constructor(view: ModelView, seed: number) {
    if (!view.featureSizes) throw new Error('auxiliary heads need the per-modality features of the model');
    const classes = view.numClasses;
    // tf.variable keeps its initial value as a tensor of its own: tidy frees it (not the variable).
    this.kernels = view.featureSizes.map((d, k) =>
      tf.tidy(() => {
        // Glorot-uniform, as tfjs-layers' Dense default; seeded so runs repeat.
        const limit = Math.sqrt(6 / (d + classes));
        return tf.variable(tf.randomUniform([d, classes], -limit, limit, 'float32', seed * 1000 + k + 1), true, uniqueName(`aux_head_m${k}/kernel`));
      }),
    );
    this.biases = view.featureSizes.map((_, k) => tf.tidy(() => tf.variable(tf.zeros([classes]), true, uniqueName(`aux_head_m${k}/bias`))));
    this.variables = this.kernels.flatMap((w, k) => [w, this.biases[k]]);
  }

  logits(out: ForwardOutputs): tf.Tensor2D[] {
    if (!out.features) throw new Error('auxiliary heads need the forward pass to return the features');
    return out.features.map((h, k) => tf.add(tf.matMul(h, this.kernels[k]), this.biases[k]) as tf.Tensor2D);
  }

  dispose(): void {
    tf.dispose(this.variables);
  }
}
