import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { resolveFfmpeg } from '../ffmpeg/resolve.js';
import { NVGESTURE_LIST_FILES } from './list.js';

/**
 * A tiny NVGesture-shaped dataset written with ffmpeg, for tests and CI runs of the examples:
 * `<root>/Video_data/class_XX/subjectN_rK/sk_color.avi` and `sk_depth.avi` plus both list files.
 *
 * Pixel values encode where they come from, so tests can check offsets, crops and flips exactly
 * (the videos are lossless FFV1): RGB = (frame·8 + label·16 mod 256, 4·x mod 256, 4·y mod 256),
 * depth = 255 − (frame·8 mod 256).
 */

export interface FixtureSampleSpec {
  /** 0-based class. */
  label: number;
  /** Frames in the videos. */
  videoFrames: number;
  /** Gesture range [start, end) written to the list (may point past the video on purpose). */
  start: number;
  end: number;
  split: 'train' | 'test';
  /** Break the sample on purpose. */
  defect?: 'corrupt-color' | 'missing-depth';
}

export interface FixtureOptions {
  width?: number;
  height?: number;
  ffmpeg?: string;
}

export function fixtureRgb(frame: number, x: number, y: number, label: number): [number, number, number] {
  return [(frame * 8 + label * 16) % 256, (4 * x) % 256, (4 * y) % 256];
}

export function fixtureDepth(frame: number): number {
  return 255 - ((frame * 8) % 256);
}

function encode(ffmpeg: string, file: string, pixelFormat: 'rgb24' | 'gray', width: number, height: number, frames: Uint8Array): Promise<void> {
  const args = ['-v', 'error', '-y', '-f', 'rawvideo', '-pix_fmt', pixelFormat, '-s', `${width}x${height}`, '-r', '30', '-i', 'pipe:0', '-c:v', 'ffv1', file];
  return new Promise((resolve, reject) => {
    const child = spawn(ffmpeg, args, { stdio: ['pipe', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`ffmpeg could not write ${file} (exit ${code}): ${stderr.trim()}`))));
    child.stdin.end(Buffer.from(frames.buffer, frames.byteOffset, frames.byteLength));
  });
}

/** Writes the fixture under `root`; returns the list lines written per split. */
export async function writeNvGestureFixture(root: string, samples: readonly FixtureSampleSpec[], options: FixtureOptions = {}): Promise<{ train: string[]; test: string[] }> {
  const width = options.width ?? 40;
  const height = options.height ?? 30;
  const ffmpeg = options.ffmpeg ?? resolveFfmpeg().path;
  const lists = { train: [] as string[], test: [] as string[] };
  for (const [i, s] of samples.entries()) {
    const rel = `./Video_data/class_${String(s.label + 1).padStart(2, '0')}/subject${i + 1}_r0`;
    const dir = path.join(root, rel);
    mkdirSync(dir, { recursive: true });
    const rgb = new Uint8Array(s.videoFrames * width * height * 3);
    const depth = new Uint8Array(s.videoFrames * width * height);
    for (let f = 0; f < s.videoFrames; f++) {
      for (let y = 0; y < height; y++) {
        for (let x = 0; x < width; x++) {
          const p = (f * height + y) * width + x;
          rgb.set(fixtureRgb(f, x, y, s.label), p * 3);
          depth[p] = fixtureDepth(f);
        }
      }
    }
    if (s.defect === 'corrupt-color') {
      // Not a video at all: a header-less run of bytes.
      writeFileSync(path.join(dir, 'sk_color.avi'), Buffer.from(Array.from({ length: 4096 }, (_, k) => (k * 37) % 251)));
    } else {
      await encode(ffmpeg, path.join(dir, 'sk_color.avi'), 'rgb24', width, height, rgb);
    }
    if (s.defect !== 'missing-depth') await encode(ffmpeg, path.join(dir, 'sk_depth.avi'), 'gray', width, height, depth);
    const range = `${s.start}:${s.end}`;
    lists[s.split].push(`path:${rel} depth:sk_depth:${range} color:sk_color:${range} duo_left:duo_left:${s.start}:${s.end} label:${s.label + 1}`);
  }
  writeFileSync(path.join(root, NVGESTURE_LIST_FILES.train), `${lists.train.join('\n')}\n`);
  writeFileSync(path.join(root, NVGESTURE_LIST_FILES.test), `${lists.test.join('\n')}\n`);
  return lists;
}
