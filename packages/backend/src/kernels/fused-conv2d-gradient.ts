import * as tf from '@tensorflow/tfjs-core';
import { engine, FusedConv2D, reshape, sum, Tensor, type GradConfig, type NamedAttrMap } from '@tensorflow/tfjs-core';
import { FunctionPatch } from './function-patch.js';
import { fusedNamespace, recordingGradients } from '../tfjs-internals.js';

/**
 * Per-input gradients for training-time `tf.fused.conv2d`, which every `tf.layers.conv2d` calls.
 *
 * tfjs-core wraps the fused convolution in `customGrad`, whose gradient function computes dx,
 * dW and db together. So the input gradient of a model's first convolution is computed on every
 * step although nothing consumes it (the input is data, not a variable): on the CG-MNIST net
 * that is two full Conv2DBackpropInput calls per step, on ResNet18 the 7×7 stem's. Routed
 * through the `FusedConv2D` kernel with a registered gradient instead, tfjs's backprop asks for
 * each input's gradient separately and skips the unused one. Forward kernel, backward kernels
 * and their inputs are the ones tfjs-core uses, so the values are identical.
 */

interface FusedConv2DAttrs {
  strides: [number, number] | number;
  pad: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
  dataFormat: 'NHWC' | 'NCHW';
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

export const perInputFusedConv2DGradient: GradConfig = {
  kernelName: FusedConv2D,
  // The bias is not saved: only its shape matters, and routedThroughKernel admits 1-D biases of
  // outChannels only (saving an absent input would fail).
  inputsToSave: ['x', 'filter'],
  gradFunc: (dy: Tensor | Tensor[], saved: Tensor[], attrs: NamedAttrMap) => {
    const [x, filter] = saved;
    const dy4 = dy as tf.Tensor4D;
    const { strides, pad, dataFormat, dimRoundingMode } = attrs as unknown as FusedConv2DAttrs;
    const convAttrs = { strides, pad, dataFormat, dimRoundingMode };
    return {
      x: () => engine().runKernel('Conv2DBackpropInput', { dy: dy4, filter }, { ...convAttrs, inputShape: x.shape } as never) as Tensor,
      filter: () => engine().runKernel('Conv2DBackpropFilter', { x, dy: dy4 }, { ...convAttrs, filterShape: filter.shape } as never) as Tensor,
      // Asked for only when the node has a bias input.
      bias: () => reshape(sum(dy4, [0, 1, 2]), [filter.shape[3] as number]),
    };
  },
};

type FusedConv2DArgs = Parameters<typeof tf.fused.conv2d>[0];
type FusedConv2DFn = (args: FusedConv2DArgs) => Tensor;

const isUnitDilation = (d: FusedConv2DArgs['dilations']) => d === undefined || (Array.isArray(d) ? d.every((v) => v === 1) : d === 1);

/** The cases routed through the kernel: the ones tfjs fuses while recording gradients, NHWC float32 4-D, 1-D bias. */
function routedThroughKernel(args: FusedConv2DArgs): boolean {
  const { x, filter, bias } = args;
  return (
    recordingGradients() &&
    (args.activation ?? 'linear') === 'linear' &&
    (args.dataFormat ?? 'NHWC') === 'NHWC' &&
    isUnitDilation(args.dilations) &&
    args.preluActivationWeights == null &&
    x instanceof Tensor &&
    x.rank === 4 &&
    x.dtype === 'float32' &&
    filter instanceof Tensor &&
    filter.rank === 4 &&
    filter.dtype === 'float32' &&
    filter.shape[2] === x.shape[3] &&
    (bias == null || (bias instanceof Tensor && bias.dtype === 'float32' && bias.rank === 1 && bias.shape[0] === filter.shape[3]))
  );
}

function conv2dWithPerInputGradients(args: FusedConv2DArgs): Tensor {
  if (!routedThroughKernel(args)) return fusedConv2DPatch.stock(args);
  const { x, filter, bias, strides, pad, dimRoundingMode } = args;
  const inputs = bias == null ? { x, filter } : { x, filter, bias };
  const attrs = { strides, pad, dataFormat: 'NHWC', dilations: [1, 1], dimRoundingMode, activation: 'linear' };
  return engine().runKernel(FusedConv2D, inputs as never, attrs as never) as Tensor;
}

const fusedConv2DPatch = new FunctionPatch<FusedConv2DFn>(fusedNamespace, 'conv2d', conv2dWithPerInputGradients);

/**
 * Installs the per-input gradient path (idempotent). Returns false when tfjs-core's `fused`
 * namespace cannot be patched (a bundled ES-module build freezes it); training then keeps
 * tfjs-core's own path, only slower.
 */
export function usePerInputFusedConv2DGradients(): boolean {
  if (!fusedConv2DPatch.install()) return false;
  tf.registerGradient(perInputFusedConv2DGradient);
  return true;
}

/** Puts tfjs-core's `fused.conv2d` back (the registered gradient then never runs: nothing else records FusedConv2D). */
export function restoreStockFusedConv2D(): void {
  fusedConv2DPatch.restore();
}
