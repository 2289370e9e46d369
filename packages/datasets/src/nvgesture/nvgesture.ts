import { existsSync } from 'node:fs';
import path from 'node:path';
import { decodeFrames, VideoDecodeError, type DecodedFrames } from '../ffmpeg/decode.js';
import { resolveFfmpeg } from '../ffmpeg/resolve.js';
import { checkBatchSize, countBatches, type MultiModalBatch, type Split, type SplitBatchOptions } from '../batch.js';
import { prefetch } from '../prefetch.js';
import { createRng, deriveSeed, shuffledIndices, splitTrainValidation, type Rng } from '../random.js';
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

interface ClipShape {
  frames: number;
  resize: number;
  crop: number;
}

interface ResolvedClipOptions extends ClipShape {
  ffmpeg: string;
}

function checkClipShape(options: ClipOptions): ClipShape {
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
  return { frames, resize, crop };
}

function resolveClipOptions(options: ClipOptions): ResolvedClipOptions {
  return { ...checkClipShape(options), ffmpeg: options.ffmpeg ?? resolveFfmpeg().path };
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

export const NVGESTURE_DOWNLOAD_HINT =
  'NVGesture (Molchanov et al., "Online detection and classification of dynamic hand gestures with recurrent 3D convolutional neural networks", CVPR 2016) ' +
  'is distributed by NVIDIA Research (the download is linked from the paper\'s page on research.nvidia.com, after accepting its licence). ' +
  'Unpack it so that <root>/Video_data/class_01/… and <root>/nvgesture_train_correct_cvpr2016_v2.lst exist, and pass <root>.';

/** The two modalities, in the default input order. */
export type NvGestureModality = 'rgb' | 'depth';
export const NVGESTURE_MODALITIES: readonly NvGestureModality[] = Object.freeze(['rgb', 'depth']);
export type NvGestureSplitName = 'train' | 'validation' | 'test';

export interface LoaderStats {
  /** Clips delivered in batches so far this epoch. */
  clips: number;
  skipped: number;
  seconds: number;
  clipsPerSecond: number;
}

export interface NvGestureBatchOptions extends SplitBatchOptions {
  /** Reshuffle each epoch (default: true for 'train', false otherwise). */
  shuffle?: boolean;
  /**
   * Random temporal offset, crop and horizontal flip (default: true for 'train' only); fixed by
   * (seed, epoch, sample). Without it: centred window, centre crop.
   */
  augment?: boolean;
  /** Which clip feeds each model input (default ['rgb', 'depth']); ['rgb'] or ['depth'] for a uni-modal run. */
  modalities?: readonly NvGestureModality[];
  /** Clips decoded at the same time (two ffmpeg processes each). Default 2. Memory is bounded by batchSize + concurrency clips. */
  concurrency?: number;
  /** `throw` (default): a bad sample stops the iteration with its error; `skip`: it is left out and counted. */
  onError?: 'throw' | 'skip';
  /** Called after every batch, with the samples skipped so far this epoch. */
  onProgress?: (stats: LoaderStats, skippedErrors: readonly NvGestureSampleError[]) => void;
}

/** Independent random streams of one (seed, epoch). */
const SEED_STREAM = { order: 1, augment: 2 } as const;

/** One split: its list samples, and batches of clips decoded with ffmpeg as they are requested. */
export class NvGestureSplit implements Split<NvGestureBatchOptions> {
  readonly size: number;
  readonly labels: Int32Array;
  private readonly clip: ClipShape;
  private ffmpeg?: string;

  constructor(
    readonly name: NvGestureSplitName,
    /** The dataset folder the samples' paths are relative to. */
    readonly root: string,
    readonly samples: readonly NvGestureSample[],
    /** Clip geometry (and the ffmpeg binary, default `resolveFfmpeg()` at the first batch). */
    clip: ClipOptions = {},
  ) {
    this.size = samples.length;
    this.labels = Int32Array.from(samples, (s) => s.label);
    this.clip = checkClipShape(clip);
    this.ffmpeg = clip.ffmpeg;
  }

  /** Shape of one sample of a modality: [frames, crop, crop, 3 | 1]. */
  sampleShape(modality: NvGestureModality): number[] {
    const { frames, crop } = this.clip;
    return [frames, crop, crop, modality === 'rgb' ? 3 : 1];
  }

  numBatches(batchSize: number, dropRemainder = false): number {
    return countBatches(this.size, batchSize, dropRemainder);
  }

  /** The epoch's sample order (seeded shuffle or list order). */
  order(options: Pick<NvGestureBatchOptions, 'shuffle' | 'seed' | 'epoch'> = {}): Int32Array {
    const shuffle = options.shuffle ?? this.name === 'train';
    if (!shuffle) return Int32Array.from({ length: this.size }, (_, i) => i);
    return shuffledIndices(this.size, deriveSeed(options.seed ?? 0, options.epoch ?? 0, SEED_STREAM.order));
  }

  /**
   * One epoch of batches, in order, with up to `concurrency` clips decoding ahead. Each batch
   * is full except possibly the last; with `onError: 'skip'` bad samples are dropped (the next
   * good ones fill the batch) and counted. Returns the epoch's loader statistics.
   */
  async *batches(options: NvGestureBatchOptions): AsyncGenerator<MultiModalBatch, LoaderStats> {
    const { batchSize } = options;
    checkBatchSize(batchSize);
    const modalities = checkModalities(options.modalities ?? NVGESTURE_MODALITIES);
    const mode: ClipMode = (options.augment ?? this.name === 'train') ? 'train' : 'eval';
    const concurrency = Math.max(1, options.concurrency ?? 2);
    const clipOptions: ResolvedClipOptions = { ...this.clip, ffmpeg: (this.ffmpeg ??= resolveFfmpeg().path) };
    const order = this.order(options);
    const seed = options.seed ?? 0;
    const epoch = options.epoch ?? 0;
    const { root, samples } = this;
    const loads = function* () {
      for (const index of order) {
        // One seeded stream per sample and epoch, so results do not depend on decoding order.
        const rng = createRng(deriveSeed(seed, epoch, SEED_STREAM.augment, index));
        yield loadClip(root, samples[index], mode, clipOptions, rng).then(
          (clip): LoadedClip => ({ index, clip }),
          (error: unknown) => {
            if (error instanceof NvGestureSampleError) return error;
            throw error;
          },
        );
      }
    };

    const startedAt = performance.now();
    const skippedErrors: NvGestureSampleError[] = [];
    let clips = 0;
    const stats = (): LoaderStats => {
      const seconds = (performance.now() - startedAt) / 1000;
      return { clips, skipped: skippedErrors.length, seconds, clipsPerSecond: seconds > 0 ? clips / seconds : 0 };
    };
    let batch: LoadedClip[] = [];
    const emit = (): MultiModalBatch => {
      const out = this.assemble(batch, modalities);
      clips += batch.length;
      batch = [];
      options.onProgress?.(stats(), skippedErrors);
      return out;
    };
    for await (const result of prefetch(loads(), concurrency)) {
      if (result instanceof NvGestureSampleError) {
        // Leaving the loop lets the clips still decoding finish before the error propagates.
        if ((options.onError ?? 'throw') === 'throw') throw result;
        skippedErrors.push(result);
        continue;
      }
      batch.push(result);
      if (batch.length === batchSize) yield emit();
    }
    if (batch.length > 0 && !options.dropRemainder) yield emit();
    return stats();
  }

  private assemble(loaded: readonly LoadedClip[], modalities: readonly NvGestureModality[]): MultiModalBatch {
    return {
      modalities: [...modalities],
      inputs: modalities.map((modality) => {
        const sampleSize = this.sampleShape(modality).reduce((a, b) => a * b, 1);
        const out = new Float32Array(loaded.length * sampleSize);
        loaded.forEach(({ clip }, i) => out.set(modality === 'rgb' ? clip.rgb : clip.depth, i * sampleSize));
        return out;
      }),
      sampleShapes: modalities.map((modality) => this.sampleShape(modality)),
      labels: Int32Array.from(loaded, ({ clip }) => clip.label),
      size: loaded.length,
      indices: Int32Array.from(loaded, ({ index }) => index),
    };
  }
}

interface LoadedClip {
  /** Position of the sample in its split. */
  index: number;
  clip: Clip;
}

function checkModalities(modalities: readonly NvGestureModality[]): readonly NvGestureModality[] {
  if (modalities.length === 0) throw new RangeError("NVGesture modalities must list at least one of 'rgb', 'depth'");
  for (const modality of modalities) {
    if (!NVGESTURE_MODALITIES.includes(modality)) throw new RangeError(`Unknown NVGesture modality '${String(modality)}': use 'rgb' or 'depth'.`);
  }
  return modalities;
}

export interface OpenNvGestureOptions extends ClipOptions {
  /** The dataset folder: holds Video_data/ and the list files. */
  root: string;
  /** Fraction of the training list held out. Default 0.2. */
  validationFraction?: number;
  /** Seed of the hold-out split (fixed, so every run validates on the same samples). Default 0. */
  validationSeed?: number;
  onMalformed?: 'throw' | 'skip';
  /** List file names relative to the root; default the official cvpr2016_v2 lists. */
  trainList?: string;
  testList?: string;
  /** Keep the first `limit` samples of each split (list order), for CPU-scale runs. */
  limit?: number;
}

export interface NvGesture {
  readonly root: string;
  /** 80% of the official training list (fixed seed). */
  readonly train: NvGestureSplit;
  /** The other 20%. */
  readonly validation: NvGestureSplit;
  readonly test: NvGestureSplit;
  /** Malformed list lines skipped (only with `onMalformed: 'skip'`). */
  readonly malformed: readonly MalformedLine[];
}

/**
 * Reads both list files of a dataset root and holds out the validation part. Videos are read
 * when batches are requested; the clip geometry (`frames`, `resize`, `crop`) is fixed here.
 */
export function openNvGesture(options: OpenNvGestureOptions): NvGesture {
  const { root } = options;
  if (typeof root !== 'string' || root === '') throw new Error(`openNvGesture: no dataset folder given (root).\n${NVGESTURE_DOWNLOAD_HINT}`);
  const { limit } = options;
  if (limit !== undefined && !(Number.isInteger(limit) && limit >= 1)) throw new RangeError(`limit must be a positive integer, got ${limit}`);
  checkClipShape(options);
  const trainList = path.join(root, options.trainList ?? NVGESTURE_LIST_FILES.train);
  const testList = path.join(root, options.testList ?? NVGESTURE_LIST_FILES.test);
  for (const file of [trainList, testList]) {
    if (!existsSync(file)) throw new Error(`NVGesture list not found: ${file}\n${NVGESTURE_DOWNLOAD_HINT}`);
  }
  const train = readNvGestureList(trainList, { onMalformed: options.onMalformed });
  const test = readNvGestureList(testList, { onMalformed: options.onMalformed });
  const held = splitTrainValidation(train.samples.length, options.validationFraction ?? 0.2, options.validationSeed ?? 0);
  const take = (samples: NvGestureSample[]) => (limit === undefined ? samples : samples.slice(0, limit));
  const split = (name: NvGestureSplitName, samples: NvGestureSample[]) => new NvGestureSplit(name, root, take(samples), options);
  return {
    root,
    train: split('train', Array.from(held.train, (i) => train.samples[i])),
    validation: split('validation', Array.from(held.validation, (i) => train.samples[i])),
    test: split('test', test.samples),
    malformed: [...train.malformed, ...test.malformed],
  };
}
