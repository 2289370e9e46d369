export { resolveFfmpeg, FFMPEG_ENV_VAR, type FfmpegSource, type ResolvedFfmpeg, type ResolveFfmpegOptions } from '../ffmpeg/resolve.js';
export { decodeFrames, VideoDecodeError, type DecodedFrames, type DecodeFramesOptions, type RawPixelFormat, type VideoProblem } from '../ffmpeg/decode.js';
export {
  parseNvGestureList,
  readNvGestureList,
  NvGestureListError,
  NVGESTURE_LIST_FILES,
  NVGESTURE_NUM_CLASSES,
  type MalformedLine,
  type NvGestureSample,
  type ParsedList,
  type ParseListOptions,
} from './list.js';
export {
  clipWindow,
  loadClip,
  openNvGesture,
  NvGestureSampleError,
  NvGestureSplit,
  NVGESTURE_DOWNLOAD_HINT,
  NVGESTURE_MODALITIES,
  type Clip,
  type ClipMode,
  type ClipOptions,
  type LoaderStats,
  type NvGesture,
  type NvGestureBatchOptions,
  type NvGestureModality,
  type NvGestureSplitName,
  type OpenNvGestureOptions,
} from './nvgesture.js';
