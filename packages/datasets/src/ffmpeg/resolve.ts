import { accessSync, constants, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

/** Environment variable naming the ffmpeg binary to use (wins over every package and PATH). */
export const FFMPEG_ENV_VAR = 'MM_FFMPEG';

export type FfmpegSource = 'option' | 'env' | 'ffmpeg-static' | '@ffmpeg-installer/ffmpeg' | 'PATH';

export interface ResolvedFfmpeg {
  /** Absolute or PATH-resolved path of the binary. */
  path: string;
  /** Which step of the search found it. */
  source: FfmpegSource;
}

export interface ResolveFfmpegOptions {
  /** Use this binary (fails if it is not an executable file; no fallback, since it was asked for). */
  path?: string;
  /** Environment to read `MM_FFMPEG` and `PATH` from. Defaults to `process.env`. */
  env?: Record<string, string | undefined>;
  /**
   * npm packages to try, in order. Default `['ffmpeg-static', '@ffmpeg-installer/ffmpeg']`:
   * ffmpeg-static only if its binary was actually downloaded by its install script,
   * @ffmpeg-installer/ffmpeg ships the binary inside npm (optional per-platform packages).
   */
  packages?: readonly ('ffmpeg-static' | '@ffmpeg-installer/ffmpeg')[];
}

function isExecutableFile(file: string): boolean {
  try {
    if (!statSync(file).isFile()) return false;
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

const requireFromHere = createRequire(import.meta.url);

function describe(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  if (/Cannot find module/.test(message)) return 'not installed';
  return message.split('\n')[0] ?? message;
}

/**
 * The binary an npm package provides, or why it provides none. Required at call time, not
 * imported: both packages are optional, and importing this module must not need them.
 */
function fromPackage(name: 'ffmpeg-static' | '@ffmpeg-installer/ffmpeg'): { path?: string; reason?: string } {
  let exported: unknown;
  try {
    exported = requireFromHere(name);
  } catch (error) {
    // @ffmpeg-installer/ffmpeg throws a plain string when its platform package is absent.
    return { reason: describe(error) };
  }
  const candidate =
    typeof exported === 'string' ? exported : (exported as { path?: unknown; default?: unknown } | null)?.path ?? (exported as { default?: unknown } | null)?.default;
  if (typeof candidate !== 'string' || candidate === '') return { reason: 'installed but exports no binary path (unsupported platform?)' };
  if (!isExecutableFile(candidate)) {
    return {
      reason: `installed but ${candidate} is missing or not executable${name === 'ffmpeg-static' ? " (its install script, which downloads the binary, did not run; pnpm skips install scripts unless allowed)" : ''}`,
    };
  }
  return { path: candidate };
}

function fromPath(env: Record<string, string | undefined>): { path?: string; reason?: string } {
  const dirs = (env.PATH ?? '').split(path.delimiter).filter((d) => d !== '');
  const names = process.platform === 'win32' ? ['ffmpeg.exe', 'ffmpeg'] : ['ffmpeg'];
  for (const dir of dirs) {
    for (const name of names) {
      const file = path.join(dir, name);
      if (isExecutableFile(file)) return { path: file };
    }
  }
  return { reason: dirs.length === 0 ? 'PATH is empty' : `no ffmpeg in ${dirs.length} PATH directories` };
}

/**
 * Finds an ffmpeg binary: `options.path`, then `MM_FFMPEG`, then the `ffmpeg-static` package if
 * its binary is present, then `@ffmpeg-installer/ffmpeg`, then `ffmpeg` on PATH. Throws an error
 * that lists every step and why it failed.
 */
export function resolveFfmpeg(options: ResolveFfmpegOptions = {}): ResolvedFfmpeg {
  const env = options.env ?? process.env;
  if (options.path !== undefined) {
    if (isExecutableFile(options.path)) return { path: options.path, source: 'option' };
    throw new Error(`ffmpeg path given as an option is not an executable file: ${options.path}`);
  }
  const fromEnv = env[FFMPEG_ENV_VAR]?.trim();
  if (fromEnv) {
    if (isExecutableFile(fromEnv)) return { path: fromEnv, source: 'env' };
    throw new Error(`${FFMPEG_ENV_VAR}=${fromEnv} is not an executable file; point it at an ffmpeg binary or unset it.`);
  }
  const tried: string[] = [`option path: not given`, `${FFMPEG_ENV_VAR}: not set`];
  for (const name of options.packages ?? (['ffmpeg-static', '@ffmpeg-installer/ffmpeg'] as const)) {
    const found = fromPackage(name);
    if (found.path) return { path: found.path, source: name };
    tried.push(`${name}: ${found.reason}`);
  }
  const onPath = fromPath(env);
  if (onPath.path) return { path: onPath.path, source: 'PATH' };
  tried.push(`ffmpeg on PATH: ${onPath.reason}`);
  throw new Error(
    `No ffmpeg binary found (NVGesture videos are decoded, and its test fixtures written, with ffmpeg). Tried:\n${tried.map((t) => `  - ${t}`).join('\n')}\n` +
      `Install one: npm install @ffmpeg-installer/ffmpeg (an optional peer dependency of @mm/datasets; ships the binary inside npm), ` +
      `or ffmpeg from your system's package manager, or set ${FFMPEG_ENV_VAR}=/path/to/ffmpeg.`,
  );
}
