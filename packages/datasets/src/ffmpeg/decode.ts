import { spawn } from 'node:child_process';
import { statSync } from 'node:fs';

export type RawPixelFormat = 'rgb24' | 'gray';

export interface DecodeFramesOptions {
  /** ffmpeg binary (see `resolveFfmpeg`). */
  ffmpeg: string;
  /** First frame to return, 0-based. */
  start: number;
  /** Frames wanted from `start` on; fewer come back if the video ends earlier (check `frames`). */
  count: number;
  /** Output frame size; ffmpeg scales (bilinear) while decoding. */
  width: number;
  height: number;
  /** `rgb24` (3 bytes a pixel) or `gray` (1 byte). */
  pixelFormat: RawPixelFormat;
  /** Kills the ffmpeg process when aborted. */
  signal?: AbortSignal;
}

export interface DecodedFrames {
  /** Frames × height × width × channels bytes, row-major (NHWC). */
  data: Uint8Array;
  /** Frames actually decoded (≤ count). */
  frames: number;
  width: number;
  height: number;
  channels: number;
}

export type VideoProblem = 'missing' | 'corrupt' | 'no-frames' | 'ffmpeg-failed';

/** A video that could not be decoded; `problem` says why, `file` which one. */
export class VideoDecodeError extends Error {
  constructor(
    readonly file: string,
    readonly problem: VideoProblem,
    detail: string,
  ) {
    super(`${file}: ${detail}`);
    this.name = 'VideoDecodeError';
  }
}

const STDERR_KEEP = 2000;

/**
 * Decodes frames [start, start + count) of a video by piping raw frames out of an ffmpeg child
 * process (no temporary files): trim → scale → rawvideo on stdout. Memory is one preallocated
 * buffer of count·width·height·channels bytes.
 */
export function decodeFrames(file: string, options: DecodeFramesOptions): Promise<DecodedFrames> {
  const { ffmpeg, start, count, width, height, pixelFormat } = options;
  for (const [label, value, min] of [
    ['start', start, 0],
    ['count', count, 1],
    ['width', width, 1],
    ['height', height, 1],
  ] as const) {
    if (!Number.isInteger(value) || value < min) throw new Error(`decodeFrames(${file}): ${label} must be an integer ≥ ${min}, got ${value}`);
  }
  try {
    if (!statSync(file).isFile()) return Promise.reject(new VideoDecodeError(file, 'missing', 'not a file'));
  } catch {
    return Promise.reject(new VideoDecodeError(file, 'missing', 'video file does not exist'));
  }
  const channels = pixelFormat === 'rgb24' ? 3 : 1;
  const frameBytes = width * height * channels;
  const data = new Uint8Array(count * frameBytes);
  const filters = [
    `trim=start_frame=${start}:end_frame=${start + count}`,
    'setpts=PTS-STARTPTS',
    `scale=${width}:${height}:flags=bilinear`,
  ].join(',');
  const args = ['-v', 'error', '-nostdin', '-i', file, '-vf', filters, '-vsync', '0', '-f', 'rawvideo', '-pix_fmt', pixelFormat, 'pipe:1'];

  return new Promise((resolve, reject) => {
    const child = spawn(ffmpeg, args, { stdio: ['ignore', 'pipe', 'pipe'], signal: options.signal });
    let received = 0;
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      const room = data.length - received;
      if (room > 0) data.set(chunk.subarray(0, Math.min(room, chunk.length)), received);
      received += Math.min(room, chunk.length);
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString('utf8')).slice(-STDERR_KEEP);
    });
    child.on('error', (error) => {
      reject(
        (error as NodeJS.ErrnoException).code === 'ENOENT'
          ? new Error(`cannot run ffmpeg at ${ffmpeg}: not found (see resolveFfmpeg / MM_FFMPEG)`)
          : new VideoDecodeError(file, 'ffmpeg-failed', `ffmpeg failed: ${error.message}`),
      );
    });
    child.on('close', (code, signal) => {
      const why = stderr.trim().split('\n').slice(-3).join(' | ');
      if (code !== 0) {
        reject(new VideoDecodeError(file, 'corrupt', `ffmpeg could not decode it (exit ${code ?? signal}): ${why || 'no message'}`));
        return;
      }
      const frames = Math.floor(received / frameBytes);
      if (frames === 0) {
        reject(new VideoDecodeError(file, 'no-frames', `no frames decoded from frame ${start} on${why ? `: ${why}` : ''} (corrupt video, or it ends before frame ${start})`));
        return;
      }
      resolve({ data: frames === count ? data : data.subarray(0, frames * frameBytes), frames, width, height, channels });
    });
  });
}
