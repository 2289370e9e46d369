import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { OutputInfo } from 'sharp';
import { checkBatchSize, countBatches, type MultiModalBatch, type Split, type SplitBatchOptions } from '../batch.js';
import { loadSharp } from '../optional-peer.js';
import { prefetch } from '../prefetch.js';
import { createRng, deriveSeed, shuffledIndices, splitTrainValidation } from '../random.js';

/**
 * ModelNet40 as the MVCNN 12-view renders (`modelnet40_images_new_12x`):
 *
 *   <root>/<class>/{train,test}/<class>_<NNNN>.obj.shaded_v001.png … _v012.png
 *
 * Cameras sit every 30° around the up axis, so 0-based views 0 and 6 (v001, v007) are the front
 * and the rear: the two modalities of the paper. Any list of views gives an N-view dataset.
 * Images are decoded and resized with sharp (libvips, off the main thread), converted to RGB
 * like PIL's `convert('RGB')`, normalised with the ImageNet mean and std, and flipped
 * horizontally at random for training (each view on its own, as torchvision's per-image
 * transform in the reference does).
 */

/** The 40 classes in the reference's order (label = index). */
export const MODELNET40_CLASSES: readonly string[] = Object.freeze([
  'airplane', 'bathtub', 'bed', 'bench', 'bookshelf', 'bottle', 'bowl', 'car', 'chair', 'cone',
  'cup', 'curtain', 'desk', 'door', 'dresser', 'flower_pot', 'glass_box', 'guitar', 'keyboard', 'lamp',
  'laptop', 'mantel', 'monitor', 'night_stand', 'person', 'piano', 'plant', 'radio', 'range_hood', 'sink',
  'sofa', 'stairs', 'stool', 'table', 'tent', 'toilet', 'tv_stand', 'vase', 'wardrobe', 'xbox',
]);
export const MODELNET40_NUM_VIEWS = 12;
/** Front and rear (v001 and v007). */
export const MODELNET40_DEFAULT_VIEWS: readonly number[] = Object.freeze([0, 6]);
/** Largest view decoded (4096²): far above any render, small enough that a hostile PNG cannot claim gigabytes. */
export const MAX_VIEW_PIXELS = 4096 * 4096;
export const IMAGENET_MEAN: readonly [number, number, number] = [0.485, 0.456, 0.406];
export const IMAGENET_STD: readonly [number, number, number] = [0.229, 0.224, 0.225];

/** Where to get the data, for messages. */
export const MODELNET40_DOWNLOAD_HINT =
  'ModelNet40 12-view renders (MVCNN, "modelnet40_images_new_12x", about 1.6 GB): download ' +
  'modelnet40_images_new_12x.zip from the MVCNN project (Su et al. 2015; the PyTorch MVCNN repository links it), ' +
  'unzip it and pass the folder that holds the 40 class folders';

const VIEW_FILE = /^(.+)\.obj\.shaded_v(\d{3})\.png$/;

export type ModelNet40SplitName = 'train' | 'validation' | 'test';

/** Bad input: the message names the file or folder and says what is wrong. */
export class ModelNet40Error extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ModelNet40Error';
  }
}

export interface ModelNet40Object {
  /** `<class>_<NNNN>` as in the file names. */
  readonly id: string;
  readonly className: string;
  readonly label: number;
  /** Path of each selected view's PNG, in the order of `views`. */
  readonly viewPaths: readonly string[];
}

export interface SkippedObject {
  readonly id: string;
  readonly split: ModelNet40SplitName;
  readonly reason: string;
}

export interface ModelNet40Options {
  /** The folder that holds the class folders. */
  root: string;
  /** 0-based view indices, one model input each. Default [0, 6] (front, rear). */
  views?: readonly number[];
  /** Output height = width. Default 224 (the renders' own size, so no resampling). */
  imageSize?: number;
  /** Class names in label order. Default the 40 ModelNet40 classes; a folder not in it is an error. */
  classes?: readonly string[];
  /** Share of the training objects held out for validation. Default 0.2. */
  validationFraction?: number;
  /** Seed of the validation hold-out (fixed, so every run validates on the same objects). Default 0. */
  validationSeed?: number;
  /**
   * Skip objects with a missing view or an undecodable PNG instead of failing; they are listed
   * in `skipped`. Default false: the first bad object is an error.
   */
  skipBadObjects?: boolean;
  /** Keep at most this many objects per split (a fixed-seed random subset, for CPU-scale runs). */
  limit?: number;
  /** Images decoded at once (sharp runs them on libuv's thread pool). Default 4. */
  concurrency?: number;
}

export interface ModelNet40BatchOptions extends SplitBatchOptions {
  /** Reshuffle each epoch (default: true for 'train', false otherwise). */
  shuffle?: boolean;
  /** Random horizontal flips (default: true for 'train' only); fixed by (seed, epoch, object, view). */
  augment?: boolean;
  /** Batches decoded ahead of the consumer: memory stays bounded by (prefetch + 1) batches. Default 2. */
  prefetch?: number;
}

export interface LoaderThroughput {
  /** Samples delivered since the split was opened. */
  samples: number;
  /** Wall time from the first batch request to the last delivery. */
  seconds: number;
  samplesPerSecond: number;
  /** Time the consumer spent waiting for a batch that was not ready: ≈ 0 when decoding keeps up. */
  waitSeconds: number;
}

/** Resolves once `limit` slots are free: bounds the decodes in flight across all batches of a split. */
class Semaphore {
  private active = 0;
  private readonly waiting: (() => void)[] = [];
  constructor(private readonly limit: number) {}
  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.active >= this.limit) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.active++;
    try {
      return await task();
    } finally {
      this.active--;
      this.waiting.shift()?.();
    }
  }
}

/** Independent random streams of one (seed, epoch). */
const SEED_STREAM = { order: 1, flip: 2 } as const;

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** One split: its objects, and batches streamed from disk. */
export class ModelNet40Split implements Split<ModelNet40BatchOptions> {
  readonly size: number;
  readonly labels: Int32Array;
  readonly sampleShape: readonly [number, number, number];
  /** One modality per selected view, named by its 0-based index: ['view0', 'view6']. */
  readonly modalities: readonly string[];
  private readonly bad = new Set<number>();
  private delivered = 0;
  private waitMs = 0;
  private firstRequest?: number;
  private lastDelivery?: number;

  constructor(
    readonly name: ModelNet40SplitName,
    readonly objects: readonly ModelNet40Object[],
    readonly imageSize: number,
    private readonly semaphore: Semaphore,
    private readonly skipBadObjects: boolean,
    /** Shared with the dataset: objects skipped at scan time and while decoding. */
    private readonly skipped: SkippedObject[],
    views: readonly number[],
  ) {
    this.size = objects.length;
    this.labels = Int32Array.from(objects, (o) => o.label);
    this.sampleShape = [imageSize, imageSize, 3];
    this.modalities = views.map((v) => `view${v}`);
  }

  numBatches(batchSize: number, dropRemainder = false): number {
    return countBatches(this.size, batchSize, dropRemainder);
  }

  /** Decodes one view: RGB, resized, optionally mirrored, normalised, written into `out` at `offset`. */
  private async decodeView(path: string, flip: boolean, out: Float32Array, offset: number): Promise<void> {
    let data: Buffer;
    let info: OutputInfo;
    const sharp = await loadSharp('ModelNet40 views are decoded');
    try {
      const input = sharp(path, { failOn: 'error', limitInputPixels: MAX_VIEW_PIXELS });
      const source = await input.metadata();
      if (source.width !== source.height) throw new Error(`${source.width}×${source.height}; the renders are square, and resizing this one would distort it`);
      let image = input.removeAlpha().toColourspace('srgb');
      image = image.resize(this.imageSize, this.imageSize, { fit: 'fill' });
      if (flip) image = image.flop();
      ({ data, info } = await image.raw().toBuffer({ resolveWithObject: true }));
    } catch (error) {
      const message = describe(error);
      const what = /ENOENT|no such file|missing/i.test(message) ? 'file is missing' : `cannot decode PNG (${message.split('\n')[0]})`;
      throw new ModelNet40Error(`${path}: ${what}`);
    }
    if (info.channels !== 3 || info.width !== this.imageSize || info.height !== this.imageSize) {
      throw new ModelNet40Error(`${path}: decoded to ${info.width}×${info.height}×${info.channels}, expected ${this.imageSize}×${this.imageSize}×3`);
    }
    const pixels = this.imageSize * this.imageSize;
    for (let p = 0; p < pixels; p++) {
      for (let c = 0; c < 3; c++) {
        out[offset + 3 * p + c] = (data[3 * p + c] / 255 - IMAGENET_MEAN[c]) / IMAGENET_STD[c];
      }
    }
  }

  /**
   * Decodes the given objects into one batch. With `skipBadObjects`, objects that fail are left
   * out (the batch is smaller) and recorded; otherwise the first failure rejects.
   */
  async loadBatch(indices: ArrayLike<number>, options: { augment?: boolean; seed?: number; epoch?: number } = {}): Promise<MultiModalBatch> {
    const views = this.modalities.length;
    const sampleSize = this.imageSize * this.imageSize * 3;
    const wanted = Array.from(indices).filter((i) => !this.bad.has(i));
    const buffers = Array.from({ length: views }, () => new Float32Array(wanted.length * sampleSize));
    const failures = new Map<number, string>();
    await Promise.all(
      wanted.flatMap((objectIndex, slot) =>
        Array.from({ length: views }, (_, view) =>
          this.semaphore.run(async () => {
            if (failures.has(objectIndex)) return;
            const flip = options.augment === true && createRng(deriveSeed(options.seed ?? 0, options.epoch ?? 0, SEED_STREAM.flip, objectIndex, view)).next() < 0.5;
            try {
              await this.decodeView(this.objects[objectIndex].viewPaths[view], flip, buffers[view], slot * sampleSize);
            } catch (error) {
              if (!this.skipBadObjects) throw error;
              failures.set(objectIndex, describe(error));
            }
          }),
        ),
      ),
    );
    if (failures.size === 0) return this.assemble(buffers, wanted);
    for (const [objectIndex, reason] of failures) {
      this.bad.add(objectIndex);
      this.skipped.push({ id: this.objects[objectIndex].id, split: this.name, reason });
    }
    const keptSlots = wanted.map((objectIndex, slot) => ({ objectIndex, slot })).filter(({ objectIndex }) => !failures.has(objectIndex));
    const compacted = buffers.map((buffer) => {
      const out = new Float32Array(keptSlots.length * sampleSize);
      keptSlots.forEach(({ slot }, k) => out.set(buffer.subarray(slot * sampleSize, (slot + 1) * sampleSize), k * sampleSize));
      return out;
    });
    return this.assemble(
      compacted,
      keptSlots.map(({ objectIndex }) => objectIndex),
    );
  }

  private assemble(inputs: Float32Array[], objectIndices: readonly number[]): MultiModalBatch {
    return {
      modalities: [...this.modalities],
      inputs,
      sampleShapes: inputs.map(() => [...this.sampleShape]),
      labels: Int32Array.from(objectIndices, (i) => this.labels[i]),
      size: objectIndices.length,
      indices: Int32Array.from(objectIndices),
    };
  }

  /** The epoch's object order (seeded shuffle or split order). */
  order(options: Pick<ModelNet40BatchOptions, 'shuffle' | 'seed' | 'epoch'> = {}): Int32Array {
    const shuffle = options.shuffle ?? this.name === 'train';
    if (!shuffle) return Int32Array.from({ length: this.size }, (_, i) => i);
    return shuffledIndices(this.size, deriveSeed(options.seed ?? 0, options.epoch ?? 0, SEED_STREAM.order));
  }

  /**
   * Streams one epoch of batches. Up to `prefetch` batches are decoded ahead while the
   * consumer trains on the current one; decoding runs on sharp's threads in parallel.
   */
  async *batches(options: ModelNet40BatchOptions): AsyncGenerator<MultiModalBatch> {
    const { batchSize } = options;
    checkBatchSize(batchSize);
    const augment = options.augment ?? this.name === 'train';
    const order = this.order(options);
    const count = this.numBatches(batchSize, options.dropRemainder);
    const split = this;
    const loads = function* () {
      for (let k = 0; k < count; k++) {
        const group = order.subarray(k * batchSize, Math.min(order.length, (k + 1) * batchSize));
        yield split.loadBatch(group, { augment, seed: options.seed, epoch: options.epoch });
      }
    };
    this.firstRequest ??= performance.now();
    // `prefetch` counts the batches ahead of the one the consumer waits for.
    let resumed = performance.now();
    for await (const batch of prefetch(loads(), (options.prefetch ?? 2) + 1)) {
      this.waitMs += performance.now() - resumed;
      if (batch.size > 0) {
        this.delivered += batch.size;
        this.lastDelivery = performance.now();
        yield batch;
      }
      resumed = performance.now();
    }
  }

  /** Samples per second delivered so far, and how long the consumer waited for data. */
  throughput(): LoaderThroughput {
    const seconds = this.firstRequest === undefined || this.lastDelivery === undefined ? 0 : (this.lastDelivery - this.firstRequest) / 1000;
    return {
      samples: this.delivered,
      seconds,
      samplesPerSecond: seconds > 0 ? this.delivered / seconds : 0,
      waitSeconds: this.waitMs / 1000,
    };
  }
}

export interface ModelNet40 {
  readonly root: string;
  readonly classes: readonly string[];
  readonly views: readonly number[];
  readonly imageSize: number;
  readonly train: ModelNet40Split;
  readonly validation: ModelNet40Split;
  readonly test: ModelNet40Split;
  /** Objects left out because of bad input (only with `skipBadObjects`); grows as decoding finds more. */
  readonly skipped: readonly SkippedObject[];
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}

function checkOptions(options: ModelNet40Options, views: readonly number[], imageSize: number): void {
  if (typeof options.root !== 'string' || options.root === '') throw new ModelNet40Error(`no dataset folder given. ${MODELNET40_DOWNLOAD_HINT}`);
  if (views.length === 0) throw new RangeError('views must list at least one view index');
  for (const v of views) {
    if (!Number.isInteger(v) || v < 0 || v >= MODELNET40_NUM_VIEWS) throw new RangeError(`view indices are 0-based in [0, ${MODELNET40_NUM_VIEWS - 1}], got ${v}`);
  }
  if (new Set(views).size !== views.length) throw new RangeError(`views must not repeat, got [${views.join(', ')}]`);
  if (!Number.isInteger(imageSize) || imageSize < 1) throw new RangeError(`imageSize must be a positive integer, got ${imageSize}`);
  const fraction = options.validationFraction ?? 0.2;
  if (!(fraction >= 0 && fraction < 1)) throw new RangeError(`validationFraction must be in [0, 1), got ${fraction}`);
  if (options.limit !== undefined && !(Number.isInteger(options.limit) && options.limit >= 1)) {
    throw new RangeError(`limit must be a positive integer, got ${options.limit}`);
  }
}

/** Lists one split folder of every class: objects sorted by class then id, with their selected views checked. */
async function scanSplit(
  root: string,
  classFolders: readonly string[],
  classes: readonly string[],
  folder: 'train' | 'test',
  views: readonly number[],
  skipBadObjects: boolean,
  skipped: SkippedObject[],
): Promise<ModelNet40Object[]> {
  const objects: ModelNet40Object[] = [];
  for (const className of classFolders) {
    const dir = join(root, className, folder);
    if (!(await isDirectory(dir))) continue;
    const files = (await readdir(dir)).filter((f) => f.toLowerCase().endsWith('.png')).sort();
    const byObject = new Map<string, Map<number, string>>();
    for (const file of files) {
      const match = VIEW_FILE.exec(file);
      if (!match) {
        throw new ModelNet40Error(`${join(dir, file)}: unexpected file name; views must be named <class>_<NNNN>.obj.shaded_v001.png … _v012.png`);
      }
      const [, id, viewText] = match;
      const view = Number(viewText) - 1;
      if (view < 0 || view >= MODELNET40_NUM_VIEWS) throw new ModelNet40Error(`${join(dir, file)}: view number ${viewText} is outside 001…012`);
      if (!byObject.has(id)) byObject.set(id, new Map());
      byObject.get(id)?.set(view, join(dir, file));
    }
    for (const [id, available] of byObject) {
      const missing = views.filter((v) => !available.has(v));
      if (missing.length > 0) {
        const names = missing.map((v) => join(dir, `${id}.obj.shaded_v${String(v + 1).padStart(3, '0')}.png`));
        const reason = `missing view${missing.length > 1 ? 's' : ''} ${names.join(', ')}`;
        if (!skipBadObjects) throw new ModelNet40Error(`object ${id} (${folder}): ${reason}. Re-extract the dataset or pass skipBadObjects.`);
        skipped.push({ id, split: folder, reason });
        continue;
      }
      objects.push({ id, className, label: classes.indexOf(className), viewPaths: views.map((v) => available.get(v) as string) });
    }
  }
  return objects;
}

function limitObjects(objects: ModelNet40Object[], limit: number | undefined, seed: number): ModelNet40Object[] {
  if (limit === undefined || objects.length <= limit) return objects;
  const keep = Array.from(shuffledIndices(objects.length, seed).subarray(0, limit)).sort((a, b) => a - b);
  return keep.map((i) => objects[i]);
}

/**
 * Scans the dataset folder (file names only; pixels are read when batches are requested) and
 * returns its three splits. Fails with a message naming the folder or file for an unknown class
 * folder, a missing view, an unexpected file name or an empty split.
 */
export async function openModelNet40(options: ModelNet40Options): Promise<ModelNet40> {
  const views = options.views ?? MODELNET40_DEFAULT_VIEWS;
  const imageSize = options.imageSize ?? 224;
  checkOptions(options, views, imageSize);
  const root = options.root;
  const classes = options.classes ?? MODELNET40_CLASSES;
  if (!(await isDirectory(root))) {
    throw new ModelNet40Error(`${root}: dataset folder not found. ${MODELNET40_DOWNLOAD_HINT}`);
  }
  const entries = (await readdir(root, { withFileTypes: true })).filter((e) => e.isDirectory() && !e.name.startsWith('.'));
  const classFolders = entries.map((e) => e.name).sort();
  const unknown = classFolders.filter((name) => !classes.includes(name));
  if (unknown.length > 0) {
    throw new ModelNet40Error(
      `${root}: unknown class folder${unknown.length > 1 ? 's' : ''} ${unknown.map((u) => `'${u}'`).join(', ')}; expected only ${classes.length} class folders (${classes.slice(0, 5).join(', ')}, …). Is this the folder that holds the class folders?`,
    );
  }
  if (classFolders.length === 0) throw new ModelNet40Error(`${root}: no class folders. ${MODELNET40_DOWNLOAD_HINT}`);
  const skipBadObjects = options.skipBadObjects ?? false;
  const skipped: SkippedObject[] = [];
  const trainAll = await scanSplit(root, classFolders, classes, 'train', views, skipBadObjects, skipped);
  const testAll = await scanSplit(root, classFolders, classes, 'test', views, skipBadObjects, skipped);
  const fraction = options.validationFraction ?? 0.2;
  const { train: trainIndex, validation: validationIndex } = splitTrainValidation(trainAll.length, fraction, options.validationSeed ?? 0);
  const limitSeed = 0x11317;
  const parts: Record<ModelNet40SplitName, ModelNet40Object[]> = {
    train: limitObjects(Array.from(trainIndex, (i) => trainAll[i]), options.limit, limitSeed),
    validation: limitObjects(Array.from(validationIndex, (i) => trainAll[i]), options.limit, limitSeed + 1),
    test: limitObjects(testAll, options.limit, limitSeed + 2),
  };
  for (const name of ['train', 'validation', 'test'] as const) {
    if (parts[name].length === 0) {
      const folder = name === 'test' ? 'test' : 'train';
      const detail =
        name === 'validation' && trainAll.length > 0
          ? `${trainAll.length} training objects × validationFraction ${fraction} leaves none for validation`
          : `no complete objects in ${root}/<class>/${folder}/ (${skipped.filter((s) => s.split === folder).length} skipped as bad)`;
      throw new ModelNet40Error(`${name} split is empty: ${detail}`);
    }
  }
  const semaphore = new Semaphore(options.concurrency ?? 4);
  const split = (name: ModelNet40SplitName) => new ModelNet40Split(name, parts[name], imageSize, semaphore, skipBadObjects, skipped, views);
  return {
    root,
    classes,
    views,
    imageSize,
    train: split('train'),
    validation: split('validation'),
    test: split('test'),
    skipped,
  };
}
