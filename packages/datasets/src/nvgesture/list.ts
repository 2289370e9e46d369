import { readFileSync } from 'node:fs';

/** NVGesture has 25 gesture classes; list labels are 1-based. */
export const NVGESTURE_NUM_CLASSES = 25;

/** The official list files (relative to the dataset root). */
export const NVGESTURE_LIST_FILES = {
  train: 'nvgesture_train_correct_cvpr2016_v2.lst',
  test: 'nvgesture_test_correct_cvpr2016_v2.lst',
} as const;

export interface NvGestureSample {
  /** The `path:` field as written, e.g. `./Video_data/class_01/subject13_r0`. */
  path: string;
  /** Video file names relative to `path` (`sk_color.avi`, `sk_depth.avi`). */
  colorFile: string;
  depthFile: string;
  /**
   * Frame range [start, end) of the gesture. The paper uses the RGB (`color:`) range for every
   * modality, so that is the one kept here; `depthRange` is the list's own depth range.
   */
  start: number;
  end: number;
  depthRange: [number, number];
  /** 0-based class (the list's 1-based `label:` field minus one; not the folder name). */
  label: number;
  /** Where it came from, for messages: `file:line`. */
  origin: string;
}

export interface MalformedLine {
  origin: string;
  reason: string;
  text: string;
}

export interface ParseListOptions {
  /** Name of the list, for messages. Default `list`. */
  source?: string;
  /** `throw` (default): the first malformed line is an error; `skip`: collect it in `malformed` and go on. */
  onMalformed?: 'throw' | 'skip';
  /** Classes, to validate labels. Default 25. */
  numClasses?: number;
}

export interface ParsedList {
  samples: NvGestureSample[];
  malformed: MalformedLine[];
}

/** A malformed list line; the message names the file, the line and the problem. */
export class NvGestureListError extends Error {
  constructor(readonly line: MalformedLine) {
    super(`${line.origin}: ${line.reason}\n  line: ${line.text}`);
    this.name = 'NvGestureListError';
  }
}

const REQUIRED_FIELDS = ['path', 'color', 'depth', 'label'];

function parseRange(value: string, key: string): { file: string; start: number; end: number } {
  // `sk_color:138:218` → file sk_color, frames [138, 218)
  const parts = value.split(':');
  if (parts.length !== 3) throw new Error(`field ${key}: expected ${key}:<file>:<start>:<end>, got ${key}:${value}`);
  const [file, startText, endText] = parts;
  const start = Number(startText);
  const end = Number(endText);
  if (!/^\d+$/.test(startText) || !/^\d+$/.test(endText) || !Number.isSafeInteger(end)) {
    throw new Error(`field ${key}: frame numbers must be non-negative integers (below 2^53), got ${startText}:${endText}`);
  }
  if (end <= start) throw new Error(`field ${key}: empty frame range [${start}, ${end})`);
  if (file === '') throw new Error(`field ${key}: missing file name`);
  return { file, start, end };
}

/**
 * Parses an NVGesture list, one sample a line:
 * `path:./Video_data/class_01/subject13_r0 depth:sk_depth:138:218 color:sk_color:138:218 duo_left:duo_left:161:254 label:1`.
 * Blank lines are ignored; unknown fields (such as `duo_left`) are allowed.
 */
export function parseNvGestureList(text: string, options: ParseListOptions = {}): ParsedList {
  const source = options.source ?? 'list';
  const numClasses = options.numClasses ?? NVGESTURE_NUM_CLASSES;
  const samples: NvGestureSample[] = [];
  const malformed: MalformedLine[] = [];
  const lines = text.split(/\r?\n/);
  for (const [i, raw] of lines.entries()) {
    const line = raw.trim();
    if (line === '') continue;
    const origin = `${source}:${i + 1}`;
    try {
      const fields = new Map<string, string>();
      for (const token of line.split(/\s+/)) {
        const colon = token.indexOf(':');
        if (colon <= 0) throw new Error(`token "${token}" is not key:value`);
        const key = token.slice(0, colon);
        // Two values for a field this reader uses: which one is meant is unknowable.
        if (fields.has(key) && REQUIRED_FIELDS.includes(key)) throw new Error(`field ${key}: given twice`);
        fields.set(key, token.slice(colon + 1));
      }
      for (const key of REQUIRED_FIELDS) {
        if (!fields.has(key)) throw new Error(`missing field ${key}:`);
      }
      const color = parseRange(fields.get('color') as string, 'color');
      const depth = parseRange(fields.get('depth') as string, 'depth');
      const labelText = fields.get('label') as string;
      const label = Number(labelText);
      if (!/^\d+$/.test(labelText) || !(label >= 1 && label <= numClasses)) {
        throw new Error(`label must be an integer in 1…${numClasses}, got ${labelText}`);
      }
      const samplePath = fields.get('path') as string;
      if (samplePath === '') throw new Error('empty path:');
      samples.push({
        path: samplePath,
        colorFile: `${color.file}.avi`,
        depthFile: `${depth.file}.avi`,
        start: color.start,
        end: color.end,
        depthRange: [depth.start, depth.end],
        label: label - 1,
        origin,
      });
    } catch (error) {
      const bad: MalformedLine = { origin, reason: (error as Error).message, text: line };
      if ((options.onMalformed ?? 'throw') === 'throw') throw new NvGestureListError(bad);
      malformed.push(bad);
    }
  }
  return { samples, malformed };
}

export function readNvGestureList(file: string, options: Omit<ParseListOptions, 'source'> = {}): ParsedList {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new Error(`cannot read NVGesture list ${file}: ${(error as Error).message}`);
  }
  return parseNvGestureList(text, { ...options, source: file });
}
