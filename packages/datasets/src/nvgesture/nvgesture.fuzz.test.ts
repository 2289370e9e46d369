import fc from 'fast-check';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeFrames, VideoDecodeError } from '../ffmpeg/decode.js';
import { resolveFfmpeg } from '../ffmpeg/resolve.js';
import { writeNvGestureFixture, type FixtureSampleSpec } from './fixture.js';
import { NVGESTURE_LIST_FILES, NvGestureListError, parseNvGestureList, readNvGestureList, type NvGestureSample } from './list.js';
import { loadClip, NvGestureSampleError, NvGestureSplit } from './nvgesture.js';

/** Runs of the properties that write and decode videos: a twentieth of FUZZ_RUNS. */
const videoRuns = () => Math.max(4, Math.round(fc.readConfigureGlobal().numRuns! / 20));

describe('NVGesture list fuzzing', () => {
  interface Spec {
    path: string;
    color: [number, number];
    depth: [number, number];
    label: number;
    extra: string[];
    separators: string[];
  }
  const range = fc.tuple(fc.nat({ max: 100_000 }), fc.integer({ min: 1, max: 500 })).map(([start, length]): [number, number] => [start, start + length]);
  const spec: fc.Arbitrary<Spec> = fc.record({
    path: fc.stringMatching(/^\.\/Video_data\/class_\d\d\/subject\d{1,2}_r\d$/),
    color: range,
    depth: range,
    label: fc.integer({ min: 1, max: 25 }),
    extra: fc.array(fc.constantFrom('duo_left:duo_left:161:254', 'duo_right:duo_right:1:2', 'note:x'), { maxLength: 2 }),
    separators: fc.array(fc.constantFrom(' ', '  ', '\t', ' \t '), { minLength: 8, maxLength: 8 }),
  });
  const tokensOf = (s: Spec) => [`path:${s.path}`, `depth:sk_depth:${s.depth[0]}:${s.depth[1]}`, `color:sk_color:${s.color[0]}:${s.color[1]}`, ...s.extra, `label:${s.label}`];
  const lineOf = (tokens: string[], separators: string[]) => tokens.map((t, i) => (i === 0 ? t : `${separators[i % separators.length]}${t}`)).join('');
  const expectSample = (sample: NvGestureSample, s: Spec) =>
    expect(sample).toMatchObject({ path: s.path, colorFile: 'sk_color.avi', depthFile: 'sk_depth.avi', start: s.color[0], end: s.color[1], depthRange: s.depth, label: s.label - 1 });

  /** Changes that make a valid line invalid, whatever else it holds. */
  const breakLine = fc.oneof(
    fc.constantFrom('path', 'color', 'depth', 'label').map((field) => (tokens: string[]) => tokens.filter((t) => !t.startsWith(`${field}:`))),
    fc.constantFrom('label:0', 'label:26', 'label:-1', 'label:1.5', 'label:', 'label:1e1').map((label) => (tokens: string[]) => tokens.map((t) => (t.startsWith('label:') ? label : t))),
    fc.constantFrom('sk_color:9:1', 'sk_color:5:5', 'sk_color:a:9', 'sk_color:1:99999999999999999999', 'sk_color:1', ':1:9', 'sk_color:-1:9').map((value) => (tokens: string[]) => tokens.map((t) => (t.startsWith('color:') ? `color:${value}` : t))),
    fc.constantFrom('label:3', 'color:sk_color:1:9', 'path:./other').map((again) => (tokens: string[]) => [...tokens, again]),
    fc.constantFrom('garbage', ':x', 'path').map((junk) => (tokens: string[]) => [...tokens, junk]),
  );

  it('any valid line parses to its fields, whatever the spacing, extra fields and line endings', () => {
    fc.assert(
      fc.property(fc.array(spec, { minLength: 1, maxLength: 5 }), fc.constantFrom('\n', '\r\n'), (specs, eol) => {
        const text = specs.map((s) => lineOf(tokensOf(s), s.separators)).join(`${eol}${eol}`);
        const { samples, malformed } = parseNvGestureList(text, { source: 'fuzz.lst' });
        expect(malformed).toEqual([]);
        specs.forEach((s, i) => expectSample(samples[i], s));
      }),
    );
  });

  it('a list of good and broken lines: throw names the first broken line; skip keeps exactly the good ones and counts exactly the broken ones', () => {
    const line = fc.tuple(spec, fc.option(breakLine, { freq: 2 }));
    fc.assert(
      fc.property(fc.array(line, { minLength: 1, maxLength: 8 }), (lines) => {
        const text = lines.map(([s, broken]) => lineOf(broken ? broken(tokensOf(s)) : tokensOf(s), s.separators)).join('\n');
        const bad = lines.flatMap(([, broken], i) => (broken ? [`fuzz.lst:${i + 1}`] : []));
        const { samples, malformed } = parseNvGestureList(text, { source: 'fuzz.lst', onMalformed: 'skip' });
        expect(malformed.map((m) => m.origin)).toEqual(bad);
        const good = lines.filter(([, broken]) => !broken);
        expect(samples).toHaveLength(good.length);
        good.forEach(([s], i) => expectSample(samples[i], s));
        if (bad.length === 0) return;
        const error = (() => {
          try {
            parseNvGestureList(text, { source: 'fuzz.lst' });
          } catch (e) {
            return e;
          }
        })();
        expect(error).toBeInstanceOf(NvGestureListError);
        expect((error as NvGestureListError).line.origin).toBe(bad[0]);
      }),
    );
  });

  it('arbitrary text: only NvGestureListError, and every line is either a valid sample or counted', () => {
    const token = fc.oneof(fc.string({ maxLength: 12 }), fc.constantFrom('path:./a', 'color:sk_color:1:9', 'depth:sk_depth:1:9', 'label:3', 'label:25', 'color:x:2:1', ':', 'path:'));
    const text = fc.array(fc.array(token, { maxLength: 7 }).map((t) => t.join(' ')), { maxLength: 6 }).map((lines) => lines.join('\n'));
    fc.assert(
      fc.property(fc.oneof(text, fc.string({ maxLength: 200 })), (input) => {
        try {
          parseNvGestureList(input, { source: 'any.lst' });
        } catch (error) {
          expect(error).toBeInstanceOf(NvGestureListError);
          expect((error as Error).message).toMatch(/^any\.lst:\d+: /);
        }
        const { samples, malformed } = parseNvGestureList(input, { source: 'any.lst', onMalformed: 'skip' });
        expect(samples.length + malformed.length).toBe(input.split(/\r?\n/).filter((l) => l.trim() !== '').length);
        for (const s of samples) {
          expect(Number.isSafeInteger(s.start) && Number.isSafeInteger(s.end) && s.start >= 0 && s.end > s.start).toBe(true);
          expect(s.label >= 0 && s.label < 25).toBe(true);
        }
      }),
    );
  });
});

describe('NVGesture videos', () => {
  const WIDTH = 16;
  const CLIP = { frames: 4, resize: WIDTH, crop: 12 };
  const SPECS: FixtureSampleSpec[] = Array.from({ length: 6 }, (_, i) => ({ label: i, videoFrames: 10, start: 1, end: 9, split: 'train' }));
  let root: string;
  let ffmpeg: string;
  let zeroFrames: string;
  let samples: NvGestureSample[];

  beforeAll(async () => {
    ffmpeg = resolveFfmpeg().path;
    root = mkdtempSync(path.join(tmpdir(), 'nvgesture-fuzz-'));
    await writeNvGestureFixture(path.join(root, 'pristine'), SPECS, { width: WIDTH, height: WIDTH, ffmpeg });
    samples = readNvGestureList(path.join(root, 'pristine', NVGESTURE_LIST_FILES.train)).samples;
    // An AVI with a stream header and no frame at all.
    zeroFrames = path.join(root, 'zero-frames.avi');
    const made = spawnSync(ffmpeg, ['-v', 'error', '-y', '-f', 'rawvideo', '-pix_fmt', 'gray', '-s', `${WIDTH}x${WIDTH}`, '-r', '30', '-i', 'pipe:0', '-c:v', 'ffv1', zeroFrames], { input: Buffer.alloc(0) });
    expect(made.status).toBe(0);
  });

  afterAll(() => rmSync(root, { recursive: true, force: true }));

  const video = (dir: string, sample: NvGestureSample, file: 'sk_color.avi' | 'sk_depth.avi') => path.join(dir, sample.path, file);

  it('hostile videos: zero frames, empty, not a video, cut after its header, a range past the end; each a typed error naming the file', async () => {
    const options = { ffmpeg, start: 0, count: 4, width: 8, height: 8, pixelFormat: 'gray' as const };
    const zero = await decodeFrames(zeroFrames, options).catch((e: unknown) => e);
    expect(zero).toBeInstanceOf(VideoDecodeError);
    expect((zero as Error).message).toContain(zeroFrames);
    const dir = path.join(root, 'hostile');
    cpSync(path.join(root, 'pristine'), dir, { recursive: true });
    const pristineColor = readFileSync(video(dir, samples[0], 'sk_color.avi'));
    const cases: [string, () => void, string][] = [
      ['zero frames', () => cpSync(zeroFrames, video(dir, samples[0], 'sk_color.avi')), 'sk_color.avi'],
      ['empty', () => writeFileSync(video(dir, samples[1], 'sk_depth.avi'), ''), 'sk_depth.avi'],
      ['not a video', () => writeFileSync(video(dir, samples[2], 'sk_color.avi'), 'RIFF....AVI LIST'), 'sk_color.avi'],
      ['cut after the header', () => writeFileSync(video(dir, samples[3], 'sk_color.avi'), pristineColor.subarray(0, 600)), 'sk_color.avi'],
    ];
    for (const [what, make, file] of cases) {
      make();
      const sample = samples[cases.findIndex((c) => c[0] === what)];
      const error = await loadClip(dir, sample, 'eval', { ...CLIP, ffmpeg }).catch((e: unknown) => e);
      expect(error, what).toBeInstanceOf(NvGestureSampleError);
      expect((error as Error).message, what).toContain(path.join(dir, sample.path, file));
    }
    const pastTheEnd = { ...samples[4], start: 8, end: 11 };
    const error = await loadClip(dir, pastTheEnd, 'eval', { ...CLIP, ffmpeg }).catch((e: unknown) => e);
    expect(error).toMatchObject({ problem: 'out-of-range', message: expect.stringMatching(/asks for frames \[8, 11\) but the video ends after frame 9/) });
    const beyond = await loadClip(dir, { ...samples[4], start: 50, end: 90 }, 'eval', { ...CLIP, ffmpeg }).catch((e: unknown) => e);
    expect(beyond).toMatchObject({ problem: 'out-of-range', message: expect.stringMatching(/asks for frames \[50, 90\) but the video has no frame 68/) });
  });

  it('damaged videos (cut short, bytes overwritten): a VideoDecodeError naming the file, or whole frames of the asked size; never a hang', async () => {
    const original = readFileSync(video(path.join(root, 'pristine'), samples[5], 'sk_color.avi'));
    const file = path.join(root, 'damaged.avi');
    const frameBytes = 8 * 8 * 3;
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.oneof(fc.record({ cut: fc.double({ min: 0, max: 0.999, noNaN: true }) }), fc.record({ at: fc.double({ min: 0, max: 0.999, noNaN: true }), value: fc.integer({ min: 0, max: 255 }) })), { minLength: 1, maxLength: 3 }),
        async (damages) => {
          let bytes = Buffer.from(original);
          for (const d of damages) {
            if ('cut' in d) bytes = bytes.subarray(0, Math.floor(d.cut * bytes.length));
            else if (bytes.length > 0) bytes[Math.floor(d.at * bytes.length)] = d.value;
          }
          writeFileSync(file, bytes);
          const controller = new AbortController();
          const timer = setTimeout(() => controller.abort(), 30_000);
          try {
            const out = await decodeFrames(file, { ffmpeg, start: 1, count: 6, width: 8, height: 8, pixelFormat: 'rgb24', signal: controller.signal });
            expect(out.frames).toBeGreaterThan(0);
            expect(out.frames).toBeLessThanOrEqual(6);
            expect(out.data.length).toBe(out.frames * frameBytes);
          } catch (error) {
            expect(controller.signal.aborted).toBe(false);
            expect(error).toBeInstanceOf(VideoDecodeError);
            expect((error as Error).message).toContain(file);
          } finally {
            clearTimeout(timer);
          }
        },
      ),
      { numRuns: videoRuns() * 2 },
    );
  });

  type Defect = 'corrupt-color' | 'empty-depth' | 'missing-depth' | 'zero-frames' | 'past-the-end';
  it('skipping bad samples drops and counts exactly the damaged ones', async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(fc.option(fc.constantFrom<Defect>('corrupt-color', 'empty-depth', 'missing-depth', 'zero-frames', 'past-the-end'), { freq: 2 }), { minLength: SPECS.length, maxLength: SPECS.length }), async (defects) => {
        const dir = path.join(root, `skip-${run++}`);
        cpSync(path.join(root, 'pristine'), dir, { recursive: true });
        const split = samples.map((sample, i) => {
          const defect = defects[i];
          if (defect === 'corrupt-color') writeFileSync(video(dir, sample, 'sk_color.avi'), 'not a video');
          if (defect === 'empty-depth') writeFileSync(video(dir, sample, 'sk_depth.avi'), '');
          if (defect === 'missing-depth') unlinkSync(video(dir, sample, 'sk_depth.avi'));
          if (defect === 'zero-frames') cpSync(zeroFrames, video(dir, sample, 'sk_depth.avi'));
          return defect === 'past-the-end' ? { ...sample, start: 9, end: 30 } : sample;
        });
        const iterator = new NvGestureSplit('test', dir, split, { ...CLIP, ffmpeg }).batches({ batchSize: 4, onError: 'skip' });
        const delivered: number[] = [];
        let result = await iterator.next();
        while (!result.done) {
          delivered.push(...result.value.indices);
          result = await iterator.next();
        }
        expect(delivered).toEqual(defects.flatMap((d, i) => (d === null ? [i] : [])));
        expect(result.value.skipped).toBe(defects.filter((d) => d !== null).length);
        rmSync(dir, { recursive: true, force: true });
      }),
      { numRuns: videoRuns() },
    );
  });
});
