import { cp, mkdir, mkdtemp, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeModelNet40Fixture } from './fixture.js';
import { IMAGENET_MEAN, IMAGENET_STD, MODELNET40_CLASSES, openModelNet40, type ModelNet40 } from './modelnet40.js';

const CLASSES = ['airplane', 'bed', 'chair'];
const TRAIN_PER_CLASS = 5;
const TEST_PER_CLASS = 2;
const SIZE = 32;

let base: string;
let fixture: string;

/** A private copy of the fixture that a test may damage. */
async function copyOfFixture(name: string): Promise<string> {
  const dir = join(base, name);
  await cp(fixture, dir, { recursive: true });
  return dir;
}

async function collect(dataset: ModelNet40, split: 'train' | 'validation' | 'test', batchSize: number, extra = {}) {
  const batches = [];
  for await (const batch of dataset[split].batches({ batchSize, ...extra })) batches.push(batch);
  return batches;
}

beforeAll(async () => {
  base = await mkdtemp(join(tmpdir(), 'mm-modelnet40-'));
  fixture = await writeModelNet40Fixture(join(base, 'fixture'), {
    classes: CLASSES,
    trainPerClass: TRAIN_PER_CLASS,
    testPerClass: TEST_PER_CLASS,
    size: SIZE,
  });
});

afterAll(async () => {
  await rm(base, { recursive: true, force: true });
});

describe('openModelNet40', () => {
  it('finds the objects, holds out 20% of train with a fixed seed and labels by the 40-class list', async () => {
    const dataset = await openModelNet40({ root: fixture });
    const trainObjects = CLASSES.length * TRAIN_PER_CLASS;
    const validation = Math.round(trainObjects * 0.2);
    expect(dataset.train.size).toBe(trainObjects - validation);
    expect(dataset.validation.size).toBe(validation);
    expect(dataset.test.size).toBe(CLASSES.length * TEST_PER_CLASS);
    expect(dataset.views).toEqual([0, 6]);
    const first = dataset.test.objects[0];
    expect(first.id).toBe('airplane_0001');
    expect(first.label).toBe(MODELNET40_CLASSES.indexOf('airplane'));
    expect(first.viewPaths.map((p) => p.slice(-8))).toEqual(['v001.png', 'v007.png']);
    expect(new Set(dataset.test.labels)).toEqual(new Set(CLASSES.map((c) => MODELNET40_CLASSES.indexOf(c))));
    const trainIds = new Set(dataset.train.objects.map((o) => o.id));
    expect(dataset.validation.objects.some((o) => trainIds.has(o.id))).toBe(false);
    const again = await openModelNet40({ root: fixture });
    expect(again.validation.objects.map((o) => o.id)).toEqual(dataset.validation.objects.map((o) => o.id));
    const otherSeed = await openModelNet40({ root: fixture, validationSeed: 1 });
    expect(otherSeed.validation.objects.map((o) => o.id)).not.toEqual(dataset.validation.objects.map((o) => o.id));
  });

  it('decodes, resizes and normalises with the ImageNet statistics', async () => {
    const imageSize = 24;
    const dataset = await openModelNet40({ root: fixture, imageSize });
    const [batch] = await collect(dataset, 'test', 2);
    expect(batch.size).toBe(2);
    expect(batch.modalities).toEqual(['view0', 'view6']);
    expect(batch.inputs).toHaveLength(2);
    expect(batch.sampleShapes).toEqual([
      [imageSize, imageSize, 3],
      [imageSize, imageSize, 3],
    ]);
    expect(batch.inputs[0].length).toBe(2 * imageSize * imageSize * 3);
    // Rear view of the second object, computed independently.
    const path = dataset.test.objects[batch.indices[1]].viewPaths[1];
    const raw = await sharp(path).removeAlpha().resize(imageSize, imageSize, { fit: 'fill' }).raw().toBuffer();
    const offset = imageSize * imageSize * 3;
    for (const p of [0, 17, imageSize * imageSize - 1]) {
      for (let c = 0; c < 3; c++) {
        const expected = (raw[3 * p + c] / 255 - IMAGENET_MEAN[c]) / IMAGENET_STD[c];
        expect(batch.inputs[1][offset + 3 * p + c]).toBeCloseTo(expected, 5);
      }
    }
    // The top-left corner is white background.
    expect(batch.inputs[0][0]).toBeCloseTo((1 - IMAGENET_MEAN[0]) / IMAGENET_STD[0], 5);
    expect(Array.from(batch.labels)).toEqual(Array.from(batch.indices, (i) => dataset.test.labels[i]));
  });

  it('flips training views at random, reproducibly for a seed and epoch, and never for evaluation', async () => {
    const dataset = await openModelNet40({ root: fixture, views: [0, 3, 6], imageSize: SIZE });
    const plain = await dataset.train.loadBatch([0, 1, 2, 3], { augment: false });
    const flipped = await dataset.train.loadBatch([0, 1, 2, 3], { augment: true, seed: 5, epoch: 1 });
    const repeat = await dataset.train.loadBatch([0, 1, 2, 3], { augment: true, seed: 5, epoch: 1 });
    expect(flipped.inputs).toHaveLength(3);
    expect(flipped.modalities).toEqual(['view0', 'view3', 'view6']);
    expect(repeat.inputs).toEqual(flipped.inputs);
    const pixels = SIZE * SIZE * 3;
    let mirrored = 0;
    let unchanged = 0;
    for (let view = 0; view < 3; view++) {
      for (let sample = 0; sample < 4; sample++) {
        const a = plain.inputs[view].subarray(sample * pixels, (sample + 1) * pixels);
        const b = flipped.inputs[view].subarray(sample * pixels, (sample + 1) * pixels);
        const mirror = new Float32Array(pixels);
        for (let y = 0; y < SIZE; y++) {
          for (let x = 0; x < SIZE; x++) {
            for (let c = 0; c < 3; c++) mirror[3 * (y * SIZE + x) + c] = a[3 * (y * SIZE + (SIZE - 1 - x)) + c];
          }
        }
        if (b.every((v, i) => v === a[i])) unchanged++;
        else if (b.every((v, i) => v === mirror[i])) mirrored++;
      }
    }
    // 12 coin flips: each image is exactly either itself or its mirror, and both occur.
    expect(mirrored + unchanged).toBe(12);
    expect(mirrored).toBeGreaterThan(0);
    expect(unchanged).toBeGreaterThan(0);
    const evaluation = await collect(dataset, 'validation', 8);
    const direct = await dataset.validation.loadBatch(evaluation[0].indices, { augment: false });
    expect(evaluation[0].inputs).toEqual(direct.inputs);
  });

  it('streams every object once per epoch with bounded prefetch and reports samples/s', async () => {
    const dataset = await openModelNet40({ root: fixture });
    const split = dataset.train;
    const original = split.loadBatch.bind(split);
    let inFlight = 0;
    let maxInFlight = 0;
    split.loadBatch = async (...args) => {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      try {
        return await original(...args);
      } finally {
        inFlight--;
      }
    };
    const prefetch = 1;
    const batchSize = 5;
    const seen: number[] = [];
    for await (const batch of split.batches({ batchSize, prefetch, seed: 3, epoch: 0 })) {
      seen.push(...batch.indices);
      // Let the prefetched batch finish while "training".
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    expect(seen.sort((a, b) => a - b)).toEqual(Array.from({ length: split.size }, (_, i) => i));
    expect(maxInFlight).toBeLessThanOrEqual(prefetch + 1);
    const throughput = split.throughput();
    expect(throughput.samples).toBe(split.size);
    expect(throughput.samplesPerSecond).toBeGreaterThan(0);
    const order0 = split.order({ seed: 3, epoch: 0 });
    expect(Array.from(split.order({ seed: 3, epoch: 0 }))).toEqual(Array.from(order0));
    expect(Array.from(split.order({ seed: 3, epoch: 1 }))).not.toEqual(Array.from(order0));
    const dropped = await collect(dataset, 'train', batchSize, { dropRemainder: true });
    expect(dropped.every((b) => b.size === batchSize)).toBe(true);
    expect(dropped).toHaveLength(split.numBatches(batchSize, true));
    expect(split.numBatches(batchSize)).toBe(Math.ceil(split.size / batchSize));
  });

  it('keeps a fixed random subset with limit', async () => {
    const dataset = await openModelNet40({ root: fixture, limit: 4 });
    expect([dataset.train.size, dataset.validation.size, dataset.test.size]).toEqual([4, 3, 4]);
    const again = await openModelNet40({ root: fixture, limit: 4 });
    expect(again.train.objects.map((o) => o.id)).toEqual(dataset.train.objects.map((o) => o.id));
  });
});

describe('openModelNet40 with bad input', () => {
  it('names the missing view file, or skips the object and counts it', async () => {
    const root = await copyOfFixture('missing-view');
    const missing = join(root, 'bed', 'train', 'bed_0002.obj.shaded_v007.png');
    await unlink(missing);
    await expect(openModelNet40({ root })).rejects.toThrow(missing);
    const dataset = await openModelNet40({ root, skipBadObjects: true });
    expect(dataset.skipped).toEqual([expect.objectContaining({ id: 'bed_0002', split: 'train' })]);
    expect(dataset.train.size + dataset.validation.size).toBe(CLASSES.length * TRAIN_PER_CLASS - 1);
    // A view that is not selected may be absent.
    const frontOnly = await openModelNet40({ root, views: [0] });
    expect(frontOnly.skipped).toHaveLength(0);
  });

  it('names a corrupt PNG when its batch is decoded, or drops it from the batch and counts it', async () => {
    const root = await copyOfFixture('corrupt-png');
    const corrupt = join(root, 'chair', 'test', 'chair_0001.obj.shaded_v001.png');
    await writeFile(corrupt, Buffer.from('this is not a PNG'));
    const strict = await openModelNet40({ root, imageSize: SIZE });
    await expect(collect(strict, 'test', 8)).rejects.toThrow(new RegExp(`${corrupt.replaceAll('.', '\\.')}: cannot decode PNG`));
    const lenient = await openModelNet40({ root, skipBadObjects: true, imageSize: SIZE });
    const batches = await collect(lenient, 'test', 8);
    const total = CLASSES.length * TEST_PER_CLASS;
    expect(batches.reduce((n, b) => n + b.size, 0)).toBe(total - 1);
    expect(batches[0].inputs[0].length).toBe((total - 1) * SIZE * SIZE * 3);
    expect(lenient.skipped).toEqual([expect.objectContaining({ id: 'chair_0001', split: 'test' })]);
    expect(lenient.skipped[0].reason).toContain(corrupt);
    // The next epoch does not try it again.
    await collect(lenient, 'test', 8);
    expect(lenient.skipped).toHaveLength(1);
  });

  it('rejects an unknown class folder, an empty split, odd file names and a missing root', async () => {
    const unknown = await copyOfFixture('unknown-class');
    await mkdir(join(unknown, 'spaceship', 'train'), { recursive: true });
    await expect(openModelNet40({ root: unknown })).rejects.toThrow(/unknown class folder 'spaceship'/);

    const noTest = join(base, 'no-test');
    await writeModelNet40Fixture(noTest, { classes: ['bed'], trainPerClass: 5, testPerClass: 0, size: 8 });
    await expect(openModelNet40({ root: noTest })).rejects.toThrow(/test split is empty/);

    const oddName = await copyOfFixture('odd-name');
    await writeFile(join(oddName, 'bed', 'train', 'bed_0001_v1.png'), '');
    await expect(openModelNet40({ root: oddName })).rejects.toThrow(/bed_0001_v1\.png: unexpected file name/);

    await expect(openModelNet40({ root: join(base, 'nowhere') })).rejects.toThrow(/dataset folder not found.*modelnet40_images_new_12x/);
    await expect(openModelNet40({ root: fixture, views: [12] })).rejects.toThrow(/0-based/);
  });
});
