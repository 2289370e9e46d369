import { existsSync, readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { corruptGzip, IdxFormatError, isGzip, parseInflatedIdx, type IdxArray } from './idx-format.js';

export {
  encodeIdx,
  IDX_IMAGES_MAGIC,
  IDX_LABELS_MAGIC,
  IDX_UNSIGNED_BYTE,
  IdxFormatError,
  type IdxArray,
} from './idx-format.js';

/**
 * Parses an IDX buffer of unsigned bytes (plain or gzip-compressed, detected from the content).
 * `file` only names the source in error messages. With `expectedMagic`, a file of the wrong
 * kind (labels given where images are expected, or not IDX at all) is rejected.
 */
export function parseIdx(bytes: Uint8Array, file: string, expectedMagic?: number): IdxArray {
  let buffer = bytes;
  if (isGzip(buffer)) {
    try {
      const inflated = gunzipSync(buffer);
      buffer = new Uint8Array(inflated.buffer, inflated.byteOffset, inflated.byteLength);
    } catch (error) {
      throw corruptGzip(file, error);
    }
  }
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

