// The IDX format itself, with no I/O: shared by the Node reader and the HTTP loader.

/**
 * The IDX format (LeCun's MNIST files): a 4-byte magic number `0x00 0x00 <type> <rank>`, then
 * `rank` big-endian uint32 dimension sizes, then the items, row-major. MNIST uses type 0x08
 * (unsigned byte), so its magic numbers are 2049 (labels, rank 1) and 2051 (images, rank 3).
 */
export const IDX_UNSIGNED_BYTE = 0x08;
export const IDX_LABELS_MAGIC = 2049;
export const IDX_IMAGES_MAGIC = 2051;

export interface IdxArray {
  /** The magic number as read, e.g. 2051 for an image file. */
  magic: number;
  /** Dimension sizes from the header, e.g. [60000, 28, 28]. */
  dims: number[];
  /** The items, row-major, exactly `product(dims)` bytes. */
  data: Uint8Array;
}

/** Raised for a missing, truncated or malformed IDX file; `file` says which. */
export class IdxFormatError extends Error {
  readonly file: string;
  constructor(file: string, problem: string) {
    super(`${file}: ${problem}`);
    this.name = 'IdxFormatError';
    this.file = file;
  }
}

const GZIP_MAGIC_0 = 0x1f;
const GZIP_MAGIC_1 = 0x8b;

const describeMagic = (magic: number): string =>
  magic === IDX_LABELS_MAGIC
    ? `${magic} (an IDX label file)`
    : magic === IDX_IMAGES_MAGIC
      ? `${magic} (an IDX image file)`
      : `${magic} (0x${magic.toString(16).padStart(8, '0')})`;

/** Header bytes of an IDX file, from its rank byte. */
export const headerBytesOf = (rank: number) => 4 + 4 * rank;

/** Deflate expands at most about 1032:1 (RFC 1951's longest match per shortest code). */
const DEFLATE_MAX_RATIO = 1032;

/**
 * The dimensions the start of an inflated IDX file announces: 'incomplete' until the whole
 * header is there, 'not-idx' when it is no IDX header of unsigned bytes (the parser then names
 * the wrong magic number).
 */
export function idxHeaderDims(head: Uint8Array): number[] | 'incomplete' | 'not-idx' {
  if (head.length < 4) return 'incomplete';
  if (head[0] !== 0 || head[1] !== 0 || head[2] !== IDX_UNSIGNED_BYTE || head[3] === 0) return 'not-idx';
  if (head.length < headerBytesOf(head[3])) return 'incomplete';
  const view = new DataView(head.buffer, head.byteOffset, head.byteLength);
  return Array.from({ length: head[3] }, (_, i) => view.getUint32(4 + 4 * i, false));
}

/**
 * The inflated size of a gzip-compressed IDX file whose header announces `dims`: header plus
 * data. A size that `gzipBytes` of deflate data cannot hold is an IdxFormatError (the file was
 * cut short, or the header lies), so nothing that large is ever allocated.
 */
export function announcedInflatedBytes(file: string, dims: readonly number[], gzipBytes: number): number {
  const announced = headerBytesOf(dims.length) + dims.reduce((a, b) => a * b, 1);
  if (!(announced <= DEFLATE_MAX_RATIO * gzipBytes + 1024)) {
    throw new IdxFormatError(
      file,
      `truncated: the header announces ${dims.join('×')} bytes of data, more than ${gzipBytes} bytes of gzip data can hold; the download was cut short, fetch the file again`,
    );
  }
  return announced;
}

/** The error for a gzip stream that inflates to more than its IDX header announces. */
export function gzipHoldsMore(file: string, dims: readonly number[]): IdxFormatError {
  return new IdxFormatError(file, `the gzip stream holds more than the header's ${dims.join('×')} bytes of data; the header count is wrong or two files were concatenated, fetch the file again`);
}

/** True when `bytes` start with the gzip magic number (the file is compressed). */
export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === GZIP_MAGIC_0 && bytes[1] === GZIP_MAGIC_1;
}

/** The error for gzip data that does not inflate, whichever inflater found it. */
export function corruptGzip(file: string, error: unknown): IdxFormatError {
  const detail = error instanceof Error ? error.message : String(error);
  return new IdxFormatError(file, `gzip data is corrupt or truncated (${detail}); download the file again or store it uncompressed`);
}

/**
 * Parses an uncompressed IDX buffer of unsigned bytes (`parseIdx` in Node and `fetchIdx`
 * inflate gzip first). `file` only names the source in error messages. With `expectedMagic`,
 * a file of the wrong kind (labels given where images are expected, or not IDX at all) is
 * rejected.
 */
export function parseInflatedIdx(buffer: Uint8Array, file: string, expectedMagic?: number): IdxArray {
  if (buffer.length < 4) {
    throw new IdxFormatError(
      file,
      `truncated: ${buffer.length} bytes, shorter than the 4-byte IDX magic number; the file is incomplete, download it again`,
    );
  }
  const view = new DataView(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  const magic = view.getUint32(0, false);
  const rank = buffer[3];
  const whatToDo = 'check that the path points at an MNIST IDX file (e.g. train-images-idx3-ubyte), not a renamed or converted file';
  if (buffer[0] !== 0 || buffer[1] !== 0 || buffer[2] !== IDX_UNSIGNED_BYTE || rank === 0) {
    throw new IdxFormatError(
      file,
      `wrong magic number ${describeMagic(magic)}: not an IDX file of unsigned bytes` +
        (expectedMagic === undefined ? '' : ` (expected ${describeMagic(expectedMagic)})`) +
        `; ${whatToDo}`,
    );
  }
  if (expectedMagic !== undefined && magic !== expectedMagic) {
    throw new IdxFormatError(
      file,
      `wrong magic number ${describeMagic(magic)}, expected ${describeMagic(expectedMagic)}; ` +
        'images and labels may be swapped, or ' + whatToDo,
    );
  }
  const headerBytes = headerBytesOf(rank);
  if (buffer.length < headerBytes) {
    throw new IdxFormatError(
      file,
      `truncated header: rank ${rank} needs ${headerBytes} header bytes but the file has ${buffer.length}; download the file again`,
    );
  }
  const dims = Array.from({ length: rank }, (_, i) => view.getUint32(4 + 4 * i, false));
  const expectedDataBytes = dims.reduce((a, b) => a * b, 1);
  const dataBytes = buffer.length - headerBytes;
  if (dataBytes < expectedDataBytes) {
    throw new IdxFormatError(
      file,
      `truncated: the header announces ${dims.join('×')} = ${expectedDataBytes} bytes of data but the file holds ${dataBytes}; ` +
        'the download or extraction was cut short, fetch the file again',
    );
  }
  if (dataBytes > expectedDataBytes) {
    throw new IdxFormatError(
      file,
      `${dataBytes - expectedDataBytes} bytes more data than the header's ${dims.join('×')} = ${expectedDataBytes}; ` +
        'the header count is wrong or two files were concatenated, fetch the file again',
    );
  }
  return { magic, dims, data: buffer.subarray(headerBytes) };
}

/**
 * Encodes unsigned bytes as an IDX buffer: the inverse of `parseIdx`. Handy for writing small
 * MNIST-format fixtures or exporting a subset.
 */
export function encodeIdx(dims: readonly number[], data: Uint8Array): Uint8Array {
  const expected = dims.reduce((a, b) => a * b, 1);
  if (data.length !== expected) {
    throw new Error(`encodeIdx: ${dims.join('×')} needs ${expected} bytes, got ${data.length}`);
  }
  const out = new Uint8Array(4 + 4 * dims.length + data.length);
  const view = new DataView(out.buffer);
  out[2] = IDX_UNSIGNED_BYTE;
  out[3] = dims.length;
  dims.forEach((d, i) => view.setUint32(4 + 4 * i, d, false));
  out.set(data, 4 + 4 * dims.length);
  return out;
}
