import { existsSync, readFileSync } from 'node:fs';
import { constants as zlibConstants, gunzipSync } from 'node:zlib';
import { corruptGzip, headerBytesOf, IDX_UNSIGNED_BYTE, IdxFormatError, isGzip, parseInflatedIdx, type IdxArray } from './idx-format.js';

export {
  encodeIdx,
  IDX_IMAGES_MAGIC,
  IDX_LABELS_MAGIC,
  IDX_UNSIGNED_BYTE,
  IdxFormatError,
  type IdxArray,
} from './idx-format.js';

/** Deflate expands at most about 1032:1 (RFC 1951's longest match per shortest code). */
const DEFLATE_MAX_RATIO = 1032;

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
  const isHeader = head.length >= 4 && head[0] === 0 && head[1] === 0 && head[2] === IDX_UNSIGNED_BYTE && head[3] !== 0 && head.length >= headerBytesOf(head[3]);
  if (!isHeader) {
    // A small stream is inflated whole, so that a cut one is reported as such; from a larger
    // one, the start is enough for parseIdx to name the wrong magic number.
    return gz.length <= prefixes[prefixes.length - 1] ? inflate(gz, {}) : head;
  }
  const view = new DataView(head.buffer, head.byteOffset, head.byteLength);
  const dims = Array.from({ length: head[3] }, (_, i) => view.getUint32(4 + 4 * i, false));
  const announced = headerBytesOf(head[3]) + dims.reduce((a, b) => a * b, 1);
  if (!(announced <= DEFLATE_MAX_RATIO * gz.length + 1024)) {
    throw new IdxFormatError(
      file,
      `truncated: the header announces ${dims.join('×')} bytes of data, more than ${gz.length} bytes of gzip data can hold; the download was cut short, fetch the file again`,
    );
  }
  try {
    return gunzipSync(gz, { maxOutputLength: announced + 1 });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') {
      throw new IdxFormatError(file, `the gzip stream holds more than the header's ${dims.join('×')} bytes of data; the header count is wrong or two files were concatenated, fetch the file again`);
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

