import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import type { LayerArgs } from '@tensorflow/tfjs-layers/dist/engine/topology';
import type { Kwargs } from '@tensorflow/tfjs-layers/dist/types';
import { squeezeAxes } from './squeeze.js';
import { torchLinearBiasInitializer, torchLinearKernelInitializer } from './torch-like-init.js';

export interface SqueezeExciteArgs extends LayerArgs {
  /** Hidden units: int(2·C/ratio), the single-modality counterpart of MMTM's int(2·ΣC/ratio). Default 4. */
  ratio?: number;
  /** Gate = gateScale·σ(w); default 2 like MMTM so uni-modal baselines match the fused networks. */
  gateScale?: number;
  seed?: number;
}

/**
 * Squeeze-and-excitation block (Hu et al. 2018) for one channels-last feature map of any rank:
 * the uni-modal counterpart of MMTM that the paper uses for its uni-modal baselines (Table 1).
 */
export class SqueezeExcite extends tfl.layers.Layer {
  static className = 'SqueezeExcite';
  readonly ratio: number;
  readonly gateScale: number;
  private readonly seed?: number;
  private squeezeKernel!: tfl.LayerVariable;
  private squeezeBias!: tfl.LayerVariable;
  private exciteKernel!: tfl.LayerVariable;
  private exciteBias!: tfl.LayerVariable;
  private channels = 0;

  constructor(args: SqueezeExciteArgs = {}) {
    super(args);
    this.ratio = args.ratio ?? 4;
    this.gateScale = args.gateScale ?? 2;
    this.seed = args.seed;
    if (!(this.ratio > 0)) throw new Error(`SqueezeExcite ${this.name}: ratio must be positive, got ${this.ratio}`);
  }

  override build(inputShape: tfl.Shape | tfl.Shape[]): void {
    const shape = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tfl.Shape;
    const c = shape[shape.length - 1];
    if (shape.length < 2 || c == null) {
      throw new Error(`SqueezeExcite ${this.name}: input must be channels-last with a known channel count, got ${JSON.stringify(shape)}`);
    }
    this.channels = c;
    const hidden = Math.floor((2 * c) / this.ratio);
    if (hidden < 1) throw new Error(`SqueezeExcite ${this.name}: ratio ${this.ratio} leaves no hidden units for ${c} channels`);
    const seed = (o: number) => (this.seed === undefined ? undefined : this.seed + o);
    this.squeezeKernel = this.addWeight('squeeze_kernel', [c, hidden], 'float32', torchLinearKernelInitializer(seed(0)));
    this.squeezeBias = this.addWeight('squeeze_bias', [hidden], 'float32', torchLinearBiasInitializer(c, seed(1)));
    this.exciteKernel = this.addWeight('excite_kernel', [hidden, c], 'float32', torchLinearKernelInitializer(seed(2)));
    this.exciteBias = this.addWeight('excite_bias', [c], 'float32', torchLinearBiasInitializer(hidden, seed(3)));
    this.built = true;
  }

  override computeOutputShape(inputShape: tfl.Shape | tfl.Shape[]): tfl.Shape | tfl.Shape[] {
    return inputShape;
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Kwargs): tf.Tensor {
    void kwargs;
    return tf.tidy(() => {
      const x = Array.isArray(inputs) ? inputs[0] : inputs;
      const h = x.rank > 2 ? tf.mean(x, squeezeAxes(x.rank)) : x;
      const z = tf.relu(tf.add(tf.matMul(h as tf.Tensor2D, this.squeezeKernel.read() as tf.Tensor2D), this.squeezeBias.read()));
      const w = tf.add(tf.matMul(z as tf.Tensor2D, this.exciteKernel.read() as tf.Tensor2D), this.exciteBias.read());
      const gate = tf.mul(tf.sigmoid(w), this.gateScale);
      return tf.mul(x, tf.reshape(gate, [x.shape[0], ...Array(x.rank - 2).fill(1), this.channels]));
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), ratio: this.ratio, gateScale: this.gateScale };
  }
}

tf.serialization.registerClass(SqueezeExcite);
