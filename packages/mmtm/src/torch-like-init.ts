import * as tfl from '@tensorflow/tfjs-layers';

/**
 * PyTorch's default `nn.Linear` initialisation: kernel and bias uniform in ±1/√fan_in.
 * Used so that fusion layers start where the reference implementation starts.
 */
export function torchLinearKernelInitializer(seed?: number) {
  // varianceScaling(uniform, fanIn) draws in ±√(3·scale/fan_in); scale 1/3 gives ±1/√fan_in.
  return tfl.initializers.varianceScaling({ scale: 1 / 3, mode: 'fanIn', distribution: 'uniform', seed });
}

export function torchLinearBiasInitializer(fanIn: number, seed?: number) {
  const bound = 1 / Math.sqrt(fanIn);
  return tfl.initializers.randomUniform({ minval: -bound, maxval: bound, seed });
}
