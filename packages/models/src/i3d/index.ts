export {
  fusedI3D,
  i3d,
  i3dEndPoint,
  i3dHead,
  i3dWithSqueezeExcite,
  I3D_BATCH_NORM,
  I3D_END_POINTS,
  I3D_FUSION_POINTS,
  type FusedI3DOptions,
  type I3DEndPoint,
  type I3DInputOptions,
  type I3DOptions,
} from './i3d.js';
export { SeededDropout, type SeededDropoutArgs } from './seeded-dropout.js';
export { i3dTorchBindings, i3dTorchModuleName, importTorchI3D, type I3DTorchOptions } from './torch-weights.js';
