export {
  cgMnistFusedNet,
  cgMnistUnimodalNet,
  CG_MNIST_DEFAULT_WIDTHS,
  CG_MNIST_FUSION_BLOCKS,
  CG_MNIST_INPUT_CHANNELS,
  type CgMnistCommonOptions,
  type CgMnistFusedNetOptions,
  type CgMnistFusion,
  type CgMnistUnimodalNetOptions,
} from './cg-mnist.js';
