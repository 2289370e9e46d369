import { existsSync, readFileSync } from 'node:fs';
import { constants as zlibConstants, gunzipSync } from 'node:zlib';
import {
  announcedInflatedBytes,
  corruptGzip,
  gzipHoldsMore,
  headerBytesOf,
  idxHeaderDims,
  IdxFormatError,
  isGzip,
  parseInflatedIdx,
  type IdxArray,
} from './idx-format.js';

export {
  encodeIdx,
  IDX_IMAGES_MAGIC,
  IDX_LABELS_MAGIC,
  IDX_UNSIGNED_BYTE,
  IdxFormatError,
  type IdxArray,
} from './idx-format.js';

/**
 * Inflates a gzip-compressed IDX file, but never more than its header announces: the header is
 * read from the start of the stream first (a prefix of the compressed data inflates to a
 * bounded size), so a small file that claims or holds gigabytes is an error, not an allocation.
 */
function inflateIdx(gz: Uint8Array, file: string): Uint8Array {
  const corrupt = (error: unknown) => corruptGzip(file, error);
  const inflate = (data: Uint8Array, options: Parameters<typeof gunzipSync>[1]): Uint8Array => {
    try {
      return gunzipSync(data, options);
    } catch (error) {
      throw corrupt(error);
    }
  };
  const prefixes = [1024, 65536];
  let head: Uint8Array = new Uint8Array(0);
  for (const prefix of prefixes) {
    head = inflate(gz.subarray(0, prefix), { finishFlush: zlibConstants.Z_SYNC_FLUSH });
    if ((head.length >= 4 && head.length >= headerBytesOf(head[3])) || prefix >= gz.length) break;
  }
  const dims = idxHeaderDims(head);
  if (typeof dims === 'string') {
    // A small stream is inflated whole, so that a cut one is reported as such; from a larger
    // one, the start is enough for parseIdx to name the wrong magic number.
    return gz.length <= prefixes[prefixes.length - 1] ? inflate(gz, {}) : head;
  }
  const announced = announcedInflatedBytes(file, dims, gz.length);
  try {
    return gunzipSync(gz, { maxOutputLength: announced + 1 });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') {
      throw gzipHoldsMore(file, dims);
    }
    throw corrupt(error);
  }
}

/**
 * Parses an IDX buffer of unsigned bytes (plain or gzip-compressed, detected from the content).
 * `file` only names the source in error messages. With `expectedMagic`, a file of the wrong
 * kind (labels given where images are expected, or not IDX at all) is rejected.
 */
export function parseIdx(bytes: Uint8Array, file: string, expectedMagic?: number): IdxArray {
  const buffer = isGzip(bytes) ? inflateIdx(bytes, file) : bytes;
  return parseInflatedIdx(buffer, file, expectedMagic);
}

/** Reads and validates one IDX file (plain or .gz) from disk. */
export function readIdxFile(file: string, expectedMagic?: number): IdxArray {
  if (!existsSync(file)) {
    throw new IdxFormatError(file, 'file not found');
  }
  const raw = readFileSync(file);
  return parseIdx(new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength), file, expectedMagic);
}

