import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeFrames, VideoDecodeError } from '../ffmpeg/decode.js';
import { FFMPEG_ENV_VAR, resolveFfmpeg } from '../ffmpeg/resolve.js';
import { createRng } from '../random.js';
import { fixtureDepth, fixtureRgb, writeNvGestureFixture, type FixtureSampleSpec } from './fixture.js';
import { NvGestureListError, parseNvGestureList, readNvGestureList } from './list.js';
import { clipWindow, loadClip, NvGestureSampleError, NvGestureSplit, openNvGesture, type LoaderStats } from './nvgesture.js';

const WIDTH = 40;
const HEIGHT = 30;
// Frames resized to the fixture's own size keep pixel values exact (lossless FFV1, no scaling).
const CLIP = { frames: 8, resize: WIDTH, crop: 24 };

const SAMPLES: FixtureSampleSpec[] = [
  { label: 0, videoFrames: 20, start: 2, end: 16, split: 'train' },
  { label: 3, videoFrames: 12, start: 1, end: 6, split: 'train' }, // shorter than the clip: padded
  { label: 7, videoFrames: 16, start: 0, end: 16, split: 'train' },
  { label: 24, videoFrames: 16, start: 4, end: 14, split: 'train' },
  { label: 5, videoFrames: 16, start: 2, end: 12, split: 'test' },
  { label: 6, videoFrames: 16, start: 0, end: 10, split: 'test', defect: 'corrupt-color' },
  { label: 8, videoFrames: 16, start: 0, end: 10, split: 'test', defect: 'missing-depth' },
  { label: 9, videoFrames: 10, start: 4, end: 30, split: 'test' }, // range beyond the video
];

let root: string;
let ffmpeg: string;

beforeAll(async () => {
  ffmpeg = resolveFfmpeg().path;
  root = mkdtempSync(path.join(tmpdir(), 'nvgesture-fixture-'));
  // Square frames so that `resize: WIDTH` is exact; a non-square sample is tested separately.
  await writeNvGestureFixture(root, SAMPLES, { width: WIDTH, height: WIDTH, ffmpeg });
});

afterAll(() => {
  rmSync(root, { recursive: true, force: true });
});

describe('resolveFfmpeg', () => {
  it('finds a binary without configuration (npm package or PATH) and honours MM_FFMPEG', () => {
    const found = resolveFfmpeg({ env: { PATH: process.env.PATH } });
    expect(['ffmpeg-static', '@ffmpeg-installer/ffmpeg', 'PATH']).toContain(found.source);
    expect(resolveFfmpeg({ env: { [FFMPEG_ENV_VAR]: found.path } })).toEqual({ path: found.path, source: 'env' });
    expect(resolveFfmpeg({ path: found.path }).source).toBe('option');
  });

  it('fails clearly for a bad MM_FFMPEG and lists every step when nothing is found', () => {
    expect(() => resolveFfmpeg({ env: { [FFMPEG_ENV_VAR]: '/nonexistent/ffmpeg' } })).toThrow(/MM_FFMPEG=\/nonexistent\/ffmpeg is not an executable/);
    let message = '';
    try {
      resolveFfmpeg({ env: { PATH: '' }, packages: [] });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toMatch(/No ffmpeg binary found/);
    expect(message).toMatch(/MM_FFMPEG: not set/);
    expect(message).toMatch(/ffmpeg on PATH: PATH is empty/);
  });
});

describe('decodeFrames', () => {
  it('pipes exact raw frames out of ffmpeg for a frame range and leaves no files behind', async () => {
    const dir = path.join(root, 'Video_data/class_01/subject1_r0');
    const before = readdirSync(dir).sort();
    const out = await decodeFrames(path.join(dir, 'sk_color.avi'), { ffmpeg, start: 3, count: 4, width: WIDTH, height: WIDTH, pixelFormat: 'rgb24' });
    expect(out.frames).toBe(4);
    expect(out.data.length).toBe(4 * WIDTH * WIDTH * 3);
    const at = (f: number, x: number, y: number) => Array.from(out.data.subarray(((f * WIDTH + y) * WIDTH + x) * 3, ((f * WIDTH + y) * WIDTH + x) * 3 + 3));
    expect(at(0, 5, 7)).toEqual(fixtureRgb(3, 5, 7, 0));
    expect(at(3, 39, 0)).toEqual(fixtureRgb(6, 39, 0, 0));
    const depth = await decodeFrames(path.join(dir, 'sk_depth.avi'), { ffmpeg, start: 0, count: 100, width: WIDTH, height: WIDTH, pixelFormat: 'gray' });
    expect(depth.frames).toBe(SAMPLES[0].videoFrames); // the video ends first
    expect(depth.data[WIDTH * WIDTH * 2]).toBe(fixtureDepth(2));
    expect(readdirSync(dir).sort()).toEqual(before);
  });

  it('names the file and the problem for missing and corrupt videos', async () => {
    const options = { ffmpeg, start: 0, count: 2, width: 8, height: 8, pixelFormat: 'gray' as const };
    await expect(decodeFrames(path.join(root, 'nope.avi'), options)).rejects.toMatchObject({ problem: 'missing' });
    const corrupt = path.join(root, 'Video_data/class_07/subject6_r0/sk_color.avi');
    const error = await decodeFrames(corrupt, options).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(VideoDecodeError);
    expect((error as Error).message).toContain(corrupt);
  });
});

describe('NVGesture list', () => {
  it('parses path, both videos, the RGB range and the 1-based label', () => {
    const line = 'path:./Video_data/class_01/subject13_r0 depth:sk_depth:138:218 color:sk_color:138:218 duo_left:duo_left:161:254 label:1';
    const { samples } = parseNvGestureList(line, { source: 'x.lst' });
    expect(samples).toEqual([
      {
        path: './Video_data/class_01/subject13_r0',
        colorFile: 'sk_color.avi',
        depthFile: 'sk_depth.avi',
        start: 138,
        end: 218,
        depthRange: [138, 218],
        label: 0,
        origin: 'x.lst:1',
      },
    ]);
  });

  it('names file, line and problem for malformed lines, or skips and counts them', () => {
    const text = [
      'path:./a depth:sk_depth:1:9 color:sk_color:1:9 label:2',
      'path:./b depth:sk_depth:1:9 color:sk_color:9:1 label:2',
      '',
      'path:./c depth:sk_depth:1:9 color:sk_color:1:9 label:26',
      'garbage',
    ].join('\n');
    expect(() => parseNvGestureList(text, { source: 'my.lst' })).toThrow(NvGestureListError);
    expect(() => parseNvGestureList(text, { source: 'my.lst' })).toThrow(/my\.lst:2: field color: empty frame range \[9, 1\)/);
    const { samples, malformed } = parseNvGestureList(text, { source: 'my.lst', onMalformed: 'skip' });
    expect(samples.map((s) => s.path)).toEqual(['./a']);
    expect(malformed.map((m) => m.origin)).toEqual(['my.lst:2', 'my.lst:4', 'my.lst:5']);
    expect(malformed[1].reason).toMatch(/label must be an integer in 1…25/);
  });

  it('reads the fixture lists and holds out 20% of training with a fixed seed', () => {
    const splits = openNvGesture({ root });
    const trainCount = SAMPLES.filter((s) => s.split === 'train').length;
    expect(splits.train.size + splits.validation.size).toBe(trainCount);
    expect(splits.validation.size).toBe(Math.round(trainCount * 0.2));
    expect(openNvGesture({ root }).validation.samples).toEqual(splits.validation.samples);
    expect(splits.test.size).toBe(SAMPLES.length - trainCount);
    expect(Array.from(splits.test.labels)).toEqual(SAMPLES.filter((s) => s.split === 'test').map((s) => s.label));
    expect(readNvGestureList(path.join(root, 'nvgesture_test_correct_cvpr2016_v2.lst')).samples[0].label).toBe(SAMPLES[4].label);
    expect(openNvGesture({ root, limit: 2 }).test.samples).toEqual(splits.test.samples.slice(0, 2));
    expect(() => openNvGesture({ root: path.join(root, 'nowhere') })).toThrow(/NVGesture list not found[\s\S]*research\.nvidia\.com/);
    expect(() => openNvGesture({ root, crop: 300 })).toThrow(/crop \(300\) must not exceed resize \(256\)/);
    expect(() => openNvGesture({ root, limit: 0 })).toThrow(/limit must be a positive integer/);
  });
});

describe('clips', () => {
  const train = () => readNvGestureList(path.join(root, 'nvgesture_train_correct_cvpr2016_v2.lst')).samples;
  const test = () => readNvGestureList(path.join(root, 'nvgesture_test_correct_cvpr2016_v2.lst')).samples;
  const toByte = (v: number) => Math.round((v + 1) * 127.5);

  it('windows: random offset for training, centred for evaluation, padding on both sides when short', () => {
    expect(clipWindow(14, 8, 'eval')).toEqual({ offset: 3, count: 8, padBefore: 0 });
    expect(clipWindow(5, 8, 'eval')).toEqual({ offset: 0, count: 5, padBefore: 1 });
    const offsets = new Set(Array.from({ length: 50 }, (_, i) => clipWindow(14, 8, 'train', createRng(i)).offset));
    expect(Math.min(...offsets)).toBe(0);
    expect(Math.max(...offsets)).toBe(6);
  });

  it('evaluation clip: centred frames and centre crop, RGB range used for depth too', async () => {
    const sample = train()[0]; // frames [2, 16) → offset 3 → video frames 5…12
    const clip = await loadClip(root, sample, 'eval', { ...CLIP, ffmpeg });
    const side = CLIP.crop;
    const margin = (CLIP.resize - side) / 2;
    expect(clip.rgb.length).toBe(CLIP.frames * side * side * 3);
    expect(clip.depth.length).toBe(CLIP.frames * side * side);
    const rgbAt = (f: number, x: number, y: number) => Array.from(clip.rgb.subarray(((f * side + y) * side + x) * 3, ((f * side + y) * side + x) * 3 + 3), toByte);
    expect(rgbAt(0, 0, 0)).toEqual(fixtureRgb(5, margin, margin, sample.label));
    expect(rgbAt(7, side - 1, 3)).toEqual(fixtureRgb(12, margin + side - 1, margin + 3, sample.label));
    expect(toByte(clip.depth[(7 * side + 2) * side + 2])).toBe(fixtureDepth(12));
    expect(clip.label).toBe(sample.label);
  });

  it('short gestures are zero-padded on both sides', async () => {
    const sample = train()[1]; // frames [1, 6): 5 frames into 8 → 1 before, 2 after
    const clip = await loadClip(root, sample, 'eval', { ...CLIP, ffmpeg });
    const frame = CLIP.crop * CLIP.crop;
    const frameAll = (data: Float32Array, f: number, channels: number) => data.subarray(f * frame * channels, (f + 1) * frame * channels);
    expect(frameAll(clip.depth, 0, 1).every((v) => v === 0)).toBe(true);
    expect(toByte(frameAll(clip.depth, 1, 1)[0])).toBe(fixtureDepth(1));
    expect(toByte(frameAll(clip.depth, 5, 1)[0])).toBe(fixtureDepth(5));
    expect(frameAll(clip.rgb, 6, 3).every((v) => v === 0)).toBe(true);
    expect(frameAll(clip.rgb, 7, 3).every((v) => v === 0)).toBe(true);
  });

  it('training clips crop and flip at the same place across time and modalities', async () => {
    const sample = train()[2];
    const side = CLIP.crop;
    let flipped = 0;
    for (let seed = 0; seed < 6; seed++) {
      const clip = await loadClip(root, sample, 'train', { ...CLIP, ffmpeg }, createRng(seed));
      const px = (f: number, x: number, y: number) => Array.from(clip.rgb.subarray(((f * side + y) * side + x) * 3, ((f * side + y) * side + x) * 3 + 3), toByte);
      const [r0, g0, b0] = px(0, 0, 0);
      const [, g1] = px(0, side - 1, 0);
      const flip = g0 > g1;
      if (flip) flipped++;
      const left = (flip ? g1 : g0) / 4;
      const top = b0 / 4;
      const frame0 = (((r0 - 16 * sample.label) % 256) + 256) % 256 / 8;
      // The same crop on every frame; time runs forward one frame at a time.
      for (let f = 0; f < CLIP.frames; f++) {
        expect(px(f, 0, 0)).toEqual(fixtureRgb(frame0 + f, flip ? left + side - 1 : left, top, sample.label));
        expect(px(f, 5, 9)).toEqual(fixtureRgb(frame0 + f, flip ? left + side - 1 - 5 : left + 5, top + 9, sample.label));
        expect(toByte(clip.depth[(f * side + 9) * side + 5])).toBe(fixtureDepth(frame0 + f));
      }
    }
    expect(flipped).toBeGreaterThan(0);
    expect(flipped).toBeLessThan(6);
  });

  it('resizes non-square frames to the square resize side', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'nvgesture-wide-'));
    try {
      await writeNvGestureFixture(dir, [{ label: 2, videoFrames: 10, start: 0, end: 10, split: 'train' }], { width: 64, height: 48, ffmpeg });
      const [sample] = readNvGestureList(path.join(dir, 'nvgesture_train_correct_cvpr2016_v2.lst')).samples;
      const clip = await loadClip(dir, sample, 'eval', { frames: 4, resize: 32, crop: 28, ffmpeg });
      expect(clip.rgb.length).toBe(4 * 28 * 28 * 3);
      expect(clip.rgb.every((v) => v >= -1 && v <= 1)).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('bad samples: an error naming the sample and the problem, or skip-with-count', async () => {
    const samples = test();
    const problems: string[] = [];
    for (const sample of samples.slice(1)) {
      const error = await loadClip(root, sample, 'eval', { ...CLIP, ffmpeg }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(NvGestureSampleError);
      expect((error as Error).message).toContain(sample.path);
      problems.push((error as NvGestureSampleError).problem);
    }
    expect(problems.sort()).toEqual(['corrupt', 'missing', 'out-of-range']);

    const strict = new NvGestureSplit('test', root, samples, { ...CLIP, ffmpeg });
    await expect(async () => {
      for await (const _ of strict.batches({ batchSize: 2 })) void _;
    }).rejects.toThrow(NvGestureSampleError);

    const progress: LoaderStats[] = [];
    const sizes: number[] = [];
    const mixed = new NvGestureSplit('train', root, [...train(), ...samples], { ...CLIP, ffmpeg });
    const iterator = mixed.batches({ batchSize: 2, seed: 1, concurrency: 3, onError: 'skip', onProgress: (s) => progress.push(s) });
    let result = await iterator.next();
    while (!result.done) {
      sizes.push(result.value.size);
      expect(result.value.modalities).toEqual(['rgb', 'depth']);
      expect(result.value.sampleShapes).toEqual([
        [CLIP.frames, CLIP.crop, CLIP.crop, 3],
        [CLIP.frames, CLIP.crop, CLIP.crop, 1],
      ]);
      expect(result.value.inputs[0].length).toBe(result.value.size * CLIP.frames * CLIP.crop * CLIP.crop * 3);
      expect(result.value.inputs[1].length).toBe(result.value.size * CLIP.frames * CLIP.crop * CLIP.crop);
      expect(Array.from(result.value.labels)).toEqual(Array.from(result.value.indices, (i) => mixed.labels[i]));
      result = await iterator.next();
    }
    const good = train().length + 1;
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(good);
    expect(result.value.clips).toBe(good);
    expect(result.value.skipped).toBe(3);
    expect(result.value.clipsPerSecond).toBeGreaterThan(0);
    expect(progress.length).toBe(sizes.length);
  });
});

describe('NvGestureSplit batches', () => {
  const collect = async (split: NvGestureSplit, options: Parameters<NvGestureSplit['batches']>[0]) => {
    const batches = [];
    for await (const batch of split.batches(options)) batches.push(batch);
    return batches;
  };

  it('evaluation batches hold the loadClip clips, in list order, and a uni-modal run selects one modality', async () => {
    const data = openNvGesture({ root, ...CLIP, ffmpeg });
    const split = data.train;
    const [batch] = await collect(split, { batchSize: split.size, augment: false, shuffle: false });
    expect(Array.from(batch.indices)).toEqual(Array.from({ length: split.size }, (_, i) => i));
    const clipSize = CLIP.frames * CLIP.crop * CLIP.crop;
    for (const i of [0, split.size - 1]) {
      const clip = await loadClip(root, split.samples[i], 'eval', { ...CLIP, ffmpeg });
      expect(batch.inputs[0].subarray(i * clipSize * 3, (i + 1) * clipSize * 3)).toEqual(clip.rgb);
      expect(batch.inputs[1].subarray(i * clipSize, (i + 1) * clipSize)).toEqual(clip.depth);
    }
    const [depthOnly] = await collect(split, { batchSize: split.size, augment: false, shuffle: false, modalities: ['depth'] });
    expect(depthOnly.modalities).toEqual(['depth']);
    expect(depthOnly.sampleShapes).toEqual([[CLIP.frames, CLIP.crop, CLIP.crop, 1]]);
    expect(depthOnly.inputs).toEqual([batch.inputs[1]]);
    const [rgbOnly] = await collect(split, { batchSize: split.size, augment: false, shuffle: false, modalities: ['rgb'] });
    expect(rgbOnly.inputs).toEqual([batch.inputs[0]]);
    await expect(collect(split, { batchSize: 2, modalities: ['audio' as never] })).rejects.toThrow(/Unknown NVGesture modality 'audio'/);
    await expect(collect(split, { batchSize: 0 })).rejects.toThrow(/batchSize must be a positive integer/);
  });

  it('training epochs: order and augmentation fixed by (seed, epoch), different across epochs; dropRemainder', async () => {
    const split = openNvGesture({ root, ...CLIP, ffmpeg, validationFraction: 0 }).train; // all 4 training samples
    expect(split.numBatches(3)).toBe(2);
    expect(split.numBatches(3, true)).toBe(1);
    const epoch0 = await collect(split, { batchSize: 3, seed: 4, epoch: 0 });
    const again = await collect(split, { batchSize: 3, seed: 4, epoch: 0 });
    expect(again).toEqual(epoch0);
    expect(epoch0.map((b) => b.size)).toEqual([3, 1]);
    const order0 = epoch0.flatMap((b) => Array.from(b.indices));
    expect([...order0].sort()).toEqual([0, 1, 2, 3]);
    expect(order0).toEqual(Array.from(split.order({ seed: 4, epoch: 0 })));
    const epochs = [];
    for (const epoch of [1, 2, 3]) epochs.push(await collect(split, { batchSize: 4, seed: 4, epoch }));
    // Across epochs the order or the augmentation changes (4 samples: some repetition of one is possible, of all not).
    const distinct = new Set([epoch0, ...epochs].map((batches) => JSON.stringify(batches.flatMap((b) => [Array.from(b.indices), Array.from(b.inputs[0].subarray(0, 64))]))));
    expect(distinct.size).toBe(4);
    const dropped = await collect(split, { batchSize: 3, seed: 4, epoch: 0, dropRemainder: true });
    expect(dropped).toEqual(epoch0.slice(0, 1));
  });
});

// Keep the fixture module's writer used with a broken list line too.
describe('fixture', () => {
  it('a malformed list line in a dataset root is reported with its file and line', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'nvgesture-bad-list-'));
    try {
      writeFileSync(path.join(dir, 'nvgesture_train_correct_cvpr2016_v2.lst'), 'path:./a color:sk_color:1:2 label:1\n');
      writeFileSync(path.join(dir, 'nvgesture_test_correct_cvpr2016_v2.lst'), '');
      expect(() => openNvGesture({ root: dir })).toThrow(/nvgesture_train_correct_cvpr2016_v2\.lst:1: missing field depth:/);
      expect(openNvGesture({ root: dir, onMalformed: 'skip' }).malformed).toHaveLength(1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
