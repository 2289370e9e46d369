import * as tf from '@tensorflow/tfjs-core';
import type { Balancer, BalancerState, Requirements, StepContext } from '../balancer.js';
import type { ForwardOutputs, ModelView } from '../fusion/model-view.js';
import { sumOfCrossEntropies } from '../losses.js';

/**
 * UME, Uni-Modal Ensemble (Du et al., "On Uni-Modal Feature Learning in Supervised Multi-Modal
 * Learning", ICML 2023).
 *
 * Changes: the loss and the prediction. Each modality's encoder trains with its own uni-modal
 * head only, L = Σ_m CE(z_m) — no fused loss — and the prediction is the mean of the
 * per-modality logits, (1/M)·Σ_m z_m. The z_m are the model's own heads (heads, shared-head
 * models) or auxiliary linear heads on the features h_m that the trainer adds (late models,
 * whose fused head then receives no gradient and never changes).
 * Because the branches are separable (feature m depends on input m only), z_m depends only on
 * encoder m and head m, so ∂L/∂θ_m = ∂CE(z_m)/∂θ_m: training is the same as training M
 * uni-modal models separately on the same batches (with SGD or any per-parameter optimizer), and
 * the prediction is their ensemble. A shared-head model shares its head between the modalities,
 * so only the encoders train separately there.
 * Defaults: none. Cost: M cross-entropies per step, no extra pass. Under Adam: nothing is
 * scaled, so Adam changes nothing specific to the method. Any number of modalities.
 * Needs separable branches (an MMTM model's heads see every modality, so they are not uni-modal).
 * The paper's averaging of logits (rather than probabilities) is not checked here.
 */
export class Ume implements Balancer<Record<string, never>> {
  readonly name = 'ume';
  readonly requirements: Requirements = { capabilities: ['separable-branches'], modalityLogits: ['heads', 'aux'] };

  loss(ctx: StepContext, out: ForwardOutputs): tf.Scalar {
    return sumOfCrossEntropies.compute(ctx.modalityLogits(out), ctx.labels);
  }

  predict(_view: ModelView, _out: ForwardOutputs, modalityLogits: () => tf.Tensor2D[]): tf.Tensor2D {
    const z = modalityLogits();
    return tf.div(tf.addN(z), z.length) as tf.Tensor2D;
  }

  state(): BalancerState {
    return { json: {} };
  }

  restore(): void {}
}
