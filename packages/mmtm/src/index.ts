export { MMTM, type MMTMArgs, type RebalanceStatistic } from './mmtm.js';
export { SqueezeExcite, type SqueezeExciteArgs } from './squeeze-excite.js';
export {
  NORMAL_MODE,
  fusionLayersOf,
  isFusionLayer,
  setFusionMode,
  setFusionRecording,
  withFusionMode,
  type FusionLayer,
  type FusionMode,
  type FusionRecording,
} from './fusion-mode.js';
export { squeezeAxes } from './squeeze.js';
