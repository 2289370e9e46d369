export {
  encodeSafetensors,
  parseSafetensors,
  SafetensorsFormatError,
  type Float32TensorData,
  type SafetensorsDtype,
  type SafetensorsFile,
  type SafetensorsTensor,
} from './safetensors.js';
export {
  channelsFirstToLast,
  channelsLastToFirst,
  TORCH_TO_TFJS_AXES,
  tfjsToTorch,
  torchShapeOf,
  torchToTfjs,
  transposeArray,
  type DenseArray,
  type TorchLayout,
} from './layout.js';
export {
  exportTorchStateDict,
  importTorchStateDict,
  torchBindingsFromLayers,
  TorchWeightImportError,
  TORCH_BOOKKEEPING_SUFFIXES,
  underscoreToDot,
  type ImportTorchOptions,
  type ImportTorchReport,
  type TorchBindingOptions,
  type TorchWeightBinding,
} from './torch-import.js';
export { encodeModelWeights, loadModelWeights } from './model-weights.js';
