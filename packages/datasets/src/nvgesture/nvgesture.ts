import { existsSync } from 'node:fs';
import path from 'node:path';
import { decodeFrames, VideoDecodeError, type DecodedFrames } from '../ffmpeg/decode.js';
import { resolveFfmpeg } from '../ffmpeg/resolve.js';
import { createRng, splitTrainValidation, type Rng } from '../random.js';
import { NVGESTURE_LIST_FILES, readNvGestureList, type MalformedLine, type NvGestureSample } from './list.js';

/**
 * NVGesture RGB + depth clips, prepared as in the paper: the RGB frame range for both
 * modalities; `frames` consecutive frames (64 in the paper) at a random offset for training and
 * centred for evaluation, zero-padded on both sides when the gesture is shorter; frames resized
 * to `resize`² (256) and cropped to `crop`² (224) at the same place across time and modalities
 * (random + random horizontal flip for training, centre for evaluation).
 *
 * Pixels are scaled to [−1, 1] (x/127.5 − 1, the I3D convention); padding frames are 0.
 */

export interface ClipOptions {
  /** Frames per clip. Default 64. */
  frames?: number;
  /** Side the frames are resized to before cropping. Default 256. */
  resize?: number;
  /** Side of the square crop. Default 224. */
  crop?: number;
  /** ffmpeg binary; default `resolveFfmpeg()`. */
  ffmpeg?: string;
}

export type ClipMode = 'train' | 'eval';

export interface Clip {
  /** [frames, crop, crop, 3], values in [−1, 1]. */
  rgb: Float32Array;
  /** [frames, crop, crop, 1], values in [−1, 1]. */
  depth: Float32Array;
  label: number;
  sample: NvGestureSample;
}

interface ResolvedClipOptions {
  frames: number;
  resize: number;
  crop: number;
  ffmpeg: string;
}

function resolveClipOptions(options: ClipOptions): ResolvedClipOptions {
  const frames = options.frames ?? 64;
  const resize = options.resize ?? 256;
  const crop = options.crop ?? 224;
  for (const [label, value] of [
    ['frames', frames],
    ['resize', resize],
    ['crop', crop],
  ] as const) {
    if (!Number.isInteger(value) || value < 1) throw new Error(`NVGesture clip option ${label} must be a positive integer, got ${value}`);
  }
  if (crop > resize) throw new Error(`NVGesture clip option crop (${crop}) must not exceed resize (${resize})`);
  return { frames, resize, crop, ffmpeg: options.ffmpeg ?? resolveFfmpeg().path };
}

/** Which frames of the gesture to read and how much zero padding goes before and after. */
export function clipWindow(length: number, frames: number, mode: ClipMode, rng?: Rng): { offset: number; count: number; padBefore: number } {
  if (length >= frames) {
    const slack = length - frames;
    const offset = mode === 'train' ? (rng ?? createRng(0)).int(slack + 1) : Math.floor(slack / 2);
    return { offset, count: frames, padBefore: 0 };
  }
  return { offset: 0, count: length, padBefore: Math.floor((frames - length) / 2) };
}

/** The problem with one sample, named; thrown by `loadClip` and counted by the batch iterator when skipping. */
export class NvGestureSampleError extends Error {
  constructor(
    readonly sample: NvGestureSample,
    readonly problem: string,
    detail: string,
  ) {
    super(`NVGesture sample ${sample.path} (${sample.origin}): ${detail}`);
    this.name = 'NvGestureSampleError';
  }
}

/** Crop (top, left) + flip, then bytes → [−1, 1] floats, written at frame `at` of `out`. */
function cropInto(
  decoded: DecodedFrames,
  out: Float32Array,
  firstOutFrame: number,
  crop: number,
  top: number,
  left: number,
  flip: boolean,
): void {
  const { data, frames, width, channels } = decoded;
  const inFrame = decoded.height * width * channels;
  const outFrame = crop * crop * channels;
  for (let f = 0; f < frames; f++) {
    for (let y = 0; y < crop; y++) {
      const inRow = f * inFrame + ((top + y) * width + left) * channels;
      const outRow = (firstOutFrame + f) * outFrame + y * crop * channels;
      for (let x = 0; x < crop; x++) {
        const sx = flip ? crop - 1 - x : x;
        for (let c = 0; c < channels; c++) out[outRow + x * channels + c] = data[inRow + sx * channels + c] / 127.5 - 1;
      }
    }
  }
}

async function hasFirstFrame(video: string, ffmpeg: string): Promise<boolean> {
  try {
    return (await decodeFrames(video, { ffmpeg, start: 0, count: 1, width: 8, height: 8, pixelFormat: 'gray' })).frames === 1;
  } catch {
    return false;
  }
}

/** Decodes one sample's RGB and depth clip. `rng` drives the training offset, crop and flip. */
export async function loadClip(root: string, sample: NvGestureSample, mode: ClipMode, options: ClipOptions = {}, rng?: Rng): Promise<Clip> {
  const o = resolveClipOptions(options);
  const random = rng ?? createRng(0);
  const window = clipWindow(sample.end - sample.start, o.frames, mode, random);
  const slack = o.resize - o.crop;
  const top = mode === 'train' ? random.int(slack + 1) : Math.floor(slack / 2);
  const left = mode === 'train' ? random.int(slack + 1) : Math.floor(slack / 2);
  const flip = mode === 'train' && random.next() < 0.5;
  const first = sample.start + window.offset;
  const decodeOne = async (file: string, pixelFormat: 'rgb24' | 'gray') => {
    const video = path.join(root, sample.path, file);
    let decoded: DecodedFrames;
    try {
      decoded = await decodeFrames(video, { ffmpeg: o.ffmpeg, start: first, count: window.count, width: o.resize, height: o.resize, pixelFormat });
    } catch (error) {
      if (!(error instanceof VideoDecodeError)) throw error;
      // Nothing after `first`: either the range points past the end or the video is unreadable.
      if (error.problem === 'no-frames' && (await hasFirstFrame(video, o.ffmpeg))) {
        throw new NvGestureSampleError(sample, 'out-of-range', `${video}: the list asks for frames [${sample.start}, ${sample.end}) but the video has no frame ${first}`);
      }
      throw new NvGestureSampleError(sample, error.problem === 'no-frames' ? 'corrupt' : error.problem, error.message);
    }
    if (decoded.frames < window.count) {
      throw new NvGestureSampleError(
        sample,
        'out-of-range',
        `${video}: the list asks for frames [${sample.start}, ${sample.end}) but the video ends after frame ${first + decoded.frames - 1}`,
      );
    }
    return decoded;
  };
  // Both modalities at once: two ffmpeg processes.
  const [color, depth] = await Promise.all([decodeOne(sample.colorFile, 'rgb24'), decodeOne(sample.depthFile, 'gray')]);
  const rgbOut = new Float32Array(o.frames * o.crop * o.crop * 3);
  const depthOut = new Float32Array(o.frames * o.crop * o.crop);
  cropInto(color, rgbOut, window.padBefore, o.crop, top, left, flip);
  cropInto(depth, depthOut, window.padBefore, o.crop, top, left, flip);
  return { rgb: rgbOut, depth: depthOut, label: sample.label, sample };
}

export interface NvGestureSplits {
  root: string;
  /** 80% of the official training list (fixed seed). */
  train: NvGestureSample[];
  /** The other 20%. */
  validation: NvGestureSample[];
  test: NvGestureSample[];
  /** Malformed list lines skipped (only with `onMalformed: 'skip'`). */
  malformed: MalformedLine[];
}

export interface OpenNvGestureOptions {
  /** Fraction of the training list held out. Default 0.2. */
  validationFraction?: number;
  /** Seed of the hold-out split. Default 0. */
  seed?: number;
  onMalformed?: 'throw' | 'skip';
  /** List file names relative to the root; default the official cvpr2016_v2 lists. */
  trainList?: string;
  testList?: string;
}

export const NVGESTURE_DOWNLOAD_HINT =
  'NVGesture (Molchanov et al., "Online detection and classification of dynamic hand gestures with recurrent 3D convolutional neural networks", CVPR 2016) ' +
  'is distributed by NVIDIA Research (the download is linked from the paper\'s page on research.nvidia.com, after accepting its licence). ' +
  'Unpack it so that <root>/Video_data/class_01/… and <root>/nvgesture_train_correct_cvpr2016_v2.lst exist, and pass <root>.';

/** Reads both list files of a dataset root and holds out the validation part. */
export function openNvGesture(root: string, options: OpenNvGestureOptions = {}): NvGestureSplits {
  const trainList = path.join(root, options.trainList ?? NVGESTURE_LIST_FILES.train);
  const testList = path.join(root, options.testList ?? NVGESTURE_LIST_FILES.test);
  for (const file of [trainList, testList]) {
    if (!existsSync(file)) throw new Error(`NVGesture list not found: ${file}\n${NVGESTURE_DOWNLOAD_HINT}`);
  }
  const train = readNvGestureList(trainList, { onMalformed: options.onMalformed });
  const test = readNvGestureList(testList, { onMalformed: options.onMalformed });
  const split = splitTrainValidation(train.samples.length, options.validationFraction ?? 0.2, options.seed ?? 0);
  return {
    root,
    train: Array.from(split.train, (i) => train.samples[i]),
    validation: Array.from(split.validation, (i) => train.samples[i]),
    test: test.samples,
    malformed: [...train.malformed, ...test.malformed],
  };
}

export interface ClipBatch {
  /** [batch, frames, crop, crop, 3] */
  rgb: Float32Array;
  /** [batch, frames, crop, crop, 1] */
  depth: Float32Array;
  labels: Int32Array;
  size: number;
  samples: NvGestureSample[];
}

export interface LoaderStats {
  clips: number;
  skipped: number;
  seconds: number;
  clipsPerSecond: number;
}

export interface ClipBatchOptions extends ClipOptions {
  batchSize: number;
  mode: ClipMode;
  /** Shuffles the sample order with this seed (training); omitted keeps list order. */
  shuffleSeed?: number;
  /** Seed of the augmentation random stream. Default 0. */
  seed?: number;
  /** Clips decoded at the same time (two ffmpeg processes each). Default 2. Memory is bounded by batchSize + concurrency clips. */
  concurrency?: number;
  /** `throw` (default): a bad sample stops the iteration with its error; `skip`: it is left out and counted. */
  onError?: 'throw' | 'skip';
  /** Called after every batch. */
  onProgress?: (stats: LoaderStats, skippedErrors: readonly NvGestureSampleError[]) => void;
}

/**
 * Batches of decoded clips, in order, with up to `concurrency` clips decoding ahead. Each batch
 * is full except possibly the last; with `onError: 'skip'` bad samples are dropped and counted.
 */
export async function* nvGestureBatches(root: string, samples: readonly NvGestureSample[], options: ClipBatchOptions): AsyncGenerator<ClipBatch, LoaderStats> {
  const o = resolveClipOptions(options);
  const { batchSize } = options;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error(`nvGestureBatches: batchSize must be a positive integer, got ${batchSize}`);
  const concurrency = Math.max(1, options.concurrency ?? 2);
  const order = samples.map((_, i) => i);
  if (options.shuffleSeed !== undefined) {
    const rng = createRng(options.shuffleSeed);
    for (let i = order.length - 1; i > 0; i--) {
      const j = rng.int(i + 1);
      [order[i], order[j]] = [order[j], order[i]];
    }
  }
  // One seeded stream per sample position, so results do not depend on decoding order.
  const baseSeed = options.seed ?? 0;
  const startedAt = performance.now();
  const skippedErrors: NvGestureSampleError[] = [];
  let clips = 0;
  const stats = (): LoaderStats => {
    const seconds = (performance.now() - startedAt) / 1000;
    return { clips, skipped: skippedErrors.length, seconds, clipsPerSecond: seconds > 0 ? clips / seconds : 0 };
  };

  const inFlight: Promise<Clip | NvGestureSampleError>[] = [];
  let next = 0;
  const launch = () => {
    const position = next++;
    const sample = samples[order[position]];
    const rng = createRng((baseSeed * 1_000_003 + position) >>> 0);
    inFlight.push(
      loadClip(root, sample, options.mode, o, rng).catch((error: unknown) => {
        if (error instanceof NvGestureSampleError) return error;
        throw error;
      }),
    );
  };
  const frameFloats = o.frames * o.crop * o.crop;
  let batch: Clip[] = [];
  const emit = (): ClipBatch => {
    const rgb = new Float32Array(batch.length * frameFloats * 3);
    const depth = new Float32Array(batch.length * frameFloats);
    batch.forEach((clip, i) => {
      rgb.set(clip.rgb, i * frameFloats * 3);
      depth.set(clip.depth, i * frameFloats);
    });
    const out = { rgb, depth, labels: Int32Array.from(batch, (c) => c.label), size: batch.length, samples: batch.map((c) => c.sample) };
    batch = [];
    return out;
  };
  while (next < order.length && inFlight.length < concurrency) launch();
  while (inFlight.length > 0) {
    const result = await (inFlight.shift() as Promise<Clip | NvGestureSampleError>);
    if (next < order.length) launch();
    if (result instanceof NvGestureSampleError) {
      if ((options.onError ?? 'throw') === 'throw') {
        await Promise.allSettled(inFlight);
        throw result;
      }
      skippedErrors.push(result);
      continue;
    }
    clips++;
    batch.push(result);
    if (batch.length === batchSize) {
      const out = emit();
      options.onProgress?.(stats(), skippedErrors);
      yield out;
    }
  }
  if (batch.length > 0) {
    const out = emit();
    options.onProgress?.(stats(), skippedErrors);
    yield out;
  }
  return stats();
}
