/**
 * Reader and writer for the safetensors format (what `safetensors.torch.save_file` writes, and
 * what a few lines of Python with `struct` + `json` can write too):
 *
 *   8 bytes   little-endian u64 N = length of the JSON header
 *   N bytes   JSON: { "<name>": { "dtype": "F32", "shape": [..], "data_offsets": [begin, end] }, …,
 *                     "__metadata__": { "<key>": "<string>" } (optional) }
 *   rest      the tensors' bytes, little-endian, row-major; offsets are relative to this part
 *
 * No tfjs here: values come back as typed arrays so that the importer decides the layout.
 */

export type SafetensorsDtype = 'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'BOOL';

const BYTES_PER_ELEMENT: Record<SafetensorsDtype, number> = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U8: 1,
  BOOL: 1,
};

export interface SafetensorsTensor {
  readonly name: string;
  readonly dtype: SafetensorsDtype;
  readonly shape: readonly number[];
  /** The raw little-endian bytes of this tensor (a view into the file's buffer). */
  readonly bytes: Uint8Array;
  /** The values converted to float32 (integers and half floats included). */
  toFloat32(): Float32Array;
}

export interface SafetensorsFile {
  readonly tensors: ReadonlyMap<string, SafetensorsTensor>;
  readonly metadata: Readonly<Record<string, string>>;
}

/** Thrown for anything that is not a well-formed safetensors file; the message names the source. */
export class SafetensorsFormatError extends Error {
  constructor(source: string, problem: string) {
    super(`${source}: not a valid safetensors file: ${problem}`);
    this.name = 'SafetensorsFormatError';
  }
}

const isLittleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function product(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exponent = (h >> 10) & 0x1f;
  const fraction = h & 0x3ff;
  if (exponent === 0) return sign * 2 ** -14 * (fraction / 1024);
  if (exponent === 0x1f) return fraction ? Number.NaN : sign * Number.POSITIVE_INFINITY;
  return sign * 2 ** (exponent - 15) * (1 + fraction / 1024);
}

function toFloat32(dtype: SafetensorsDtype, bytes: Uint8Array, count: number): Float32Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Float32Array(count);
  switch (dtype) {
    case 'F32':
      if (isLittleEndian) {
        // Copy first: the tensor's offset in the file need not be 4-byte aligned. (Not
        // `bytes.slice()`: on a Node Buffer that is a view sharing the whole file's memory.)
        const aligned = new Uint8Array(bytes.byteLength);
        aligned.set(bytes);
        return new Float32Array(aligned.buffer);
      }
      for (let i = 0; i < count; i++) out[i] = view.getFloat32(4 * i, true);
      return out;
    case 'F64':
      for (let i = 0; i < count; i++) out[i] = view.getFloat64(8 * i, true);
      return out;
    case 'F16':
      for (let i = 0; i < count; i++) out[i] = halfToFloat(view.getUint16(2 * i, true));
      return out;
    case 'BF16':
      // bfloat16 is the upper half of a float32.
      for (let i = 0; i < count; i++) {
        const u = new Uint32Array([view.getUint16(2 * i, true) << 16]);
        out[i] = new Float32Array(u.buffer)[0];
      }
      return out;
    case 'I64':
      for (let i = 0; i < count; i++) out[i] = Number(view.getBigInt64(8 * i, true));
      return out;
    case 'I32':
      for (let i = 0; i < count; i++) out[i] = view.getInt32(4 * i, true);
      return out;
    case 'I16':
      for (let i = 0; i < count; i++) out[i] = view.getInt16(2 * i, true);
      return out;
    case 'I8':
      for (let i = 0; i < count; i++) out[i] = view.getInt8(i);
      return out;
    case 'U8':
    case 'BOOL':
      for (let i = 0; i < count; i++) out[i] = view.getUint8(i);
      return out;
  }
}

/** The reference implementation's limit: a larger header is an attack or not safetensors. */
export const MAX_SAFETENSORS_HEADER_BYTES = 100_000_000;

/**
 * The first key that occurs twice at the top level of a JSON object text (already known to be
 * valid JSON). JSON.parse keeps the last of two equal keys silently, which would load one
 * tensor in place of another.
 */
function duplicateTopLevelKey(text: string): string | undefined {
  const seen = new Set<string>();
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      let j = i + 1;
      while (text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      if (depth === 1) {
        let k = j + 1;
        while (text[k] === ' ' || text[k] === '\t' || text[k] === '\n' || text[k] === '\r') k++;
        if (text[k] === ':') {
          const key = JSON.parse(text.slice(i, j + 1)) as string;
          if (seen.has(key)) return key;
          seen.add(key);
        }
      }
      i = j;
    } else if (c === '{' || c === '[') depth++;
    else if (c === '}' || c === ']') depth--;
  }
  return undefined;
}

/**
 * Parses a safetensors file held in memory. `source` (a path) only serves error messages.
 * Everything is checked before a tensor is handed out: the header (size, JSON, no repeated
 * names), each entry (dtype, shape, offsets inside the data part and matching the byte size),
 * and that no two tensors share bytes.
 */
export function parseSafetensors(data: Uint8Array, source = 'safetensors data'): SafetensorsFile {
  if (data.byteLength < 8) throw new SafetensorsFormatError(source, `only ${data.byteLength} bytes, shorter than the 8-byte header length`);
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const headerLength = Number(view.getBigUint64(0, true));
  if (headerLength > MAX_SAFETENSORS_HEADER_BYTES) {
    throw new SafetensorsFormatError(source, `header length ${headerLength} is beyond the ${MAX_SAFETENSORS_HEADER_BYTES}-byte limit; not safetensors, or the first 8 bytes are damaged`);
  }
  if (headerLength > data.byteLength - 8) {
    throw new SafetensorsFormatError(source, `header length ${headerLength} exceeds the file (${data.byteLength} bytes); truncated or not safetensors`);
  }
  let header: unknown;
  let headerText: string;
  try {
    headerText = new TextDecoder('utf-8', { fatal: true }).decode(data.subarray(8, 8 + headerLength));
    header = JSON.parse(headerText);
  } catch (error) {
    throw new SafetensorsFormatError(source, `header is not UTF-8 JSON (${error instanceof Error ? error.message : String(error)})`);
  }
  if (header === null || typeof header !== 'object' || Array.isArray(header)) {
    throw new SafetensorsFormatError(source, 'header is not a JSON object');
  }
  const repeated = duplicateTopLevelKey(headerText);
  if (repeated !== undefined) throw new SafetensorsFormatError(source, `the header names '${repeated}' twice`);
  const body = data.subarray(8 + headerLength);
  const tensors = new Map<string, SafetensorsTensor>();
  const spans: { name: string; begin: number; end: number }[] = [];
  let metadata: Record<string, string> = {};
  for (const [name, entry] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (entry === null || typeof entry !== 'object' || Array.isArray(entry) || !Object.values(entry).every((v) => typeof v === 'string')) {
        throw new SafetensorsFormatError(source, `__metadata__ must map names to strings, got ${JSON.stringify(entry).slice(0, 100)}`);
      }
      metadata = { ...(entry as Record<string, string>) };
      continue;
    }
    if (entry === null || typeof entry !== 'object' || Array.isArray(entry)) {
      throw new SafetensorsFormatError(source, `tensor '${name}' is ${JSON.stringify(entry)?.slice(0, 100)}, not an object with dtype, shape and data_offsets`);
    }
    const e = entry as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    const dtype = e.dtype as SafetensorsDtype;
    if (typeof e.dtype !== 'string' || !Object.hasOwn(BYTES_PER_ELEMENT, dtype)) {
      throw new SafetensorsFormatError(source, `tensor '${name}' has unsupported dtype ${JSON.stringify(e.dtype)} (supported: ${Object.keys(BYTES_PER_ELEMENT).join(', ')})`);
    }
    const shape = e.shape;
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw new SafetensorsFormatError(source, `tensor '${name}' has an invalid shape ${JSON.stringify(shape)}`);
    }
    const offsets = e.data_offsets;
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isSafeInteger(o) && o >= 0)) {
      throw new SafetensorsFormatError(source, `tensor '${name}' has invalid data_offsets ${JSON.stringify(offsets)}`);
    }
    const [begin, end] = offsets as [number, number];
    const count = product(shape as number[]);
    const expectedBytes = count * BYTES_PER_ELEMENT[dtype];
    if (end < begin) throw new SafetensorsFormatError(source, `tensor '${name}' has reversed data_offsets [${begin}, ${end}]`);
    if (end > body.byteLength) {
      throw new SafetensorsFormatError(source, `tensor '${name}' spans bytes [${begin}, ${end}) but the data part has ${body.byteLength} bytes (truncated file?)`);
    }
    if (end - begin !== expectedBytes) {
      throw new SafetensorsFormatError(source, `tensor '${name}' (${dtype} ${JSON.stringify(shape)}) needs ${expectedBytes} bytes, its offsets give ${end - begin}`);
    }
    if (end > begin) spans.push({ name, begin, end });
    const bytes = body.subarray(begin, end);
    tensors.set(name, {
      name,
      dtype,
      shape: shape as number[],
      bytes,
      toFloat32: () => toFloat32(dtype, bytes, count),
    });
  }
  spans.sort((a, b) => a.begin - b.begin);
  for (let i = 1; i < spans.length; i++) {
    const [a, b] = [spans[i - 1], spans[i]];
    if (b.begin < a.end) throw new SafetensorsFormatError(source, `tensors '${a.name}' [${a.begin}, ${a.end}) and '${b.name}' [${b.begin}, ${b.end}) overlap`);
  }
  return { tensors, metadata };
}

export interface Float32TensorData {
  shape: readonly number[];
  /** float32 values (F32), or int32 values (I32). */
  data: Float32Array | Int32Array;
}

/** Writes float32 (and int32) tensors as a safetensors file (e.g. to hand tfjs weights back to PyTorch). */
export function encodeSafetensors(
  tensors: Readonly<Record<string, Float32TensorData>>,
  metadata?: Readonly<Record<string, string>>,
): Uint8Array {
  const header: Record<string, unknown> = {};
  if (metadata) header.__metadata__ = metadata;
  let offset = 0;
  const names = Object.keys(tensors);
  for (const name of names) {
    const { shape, data } = tensors[name];
    if (product(shape) !== data.length) {
      throw new Error(`encodeSafetensors: tensor '${name}' has ${data.length} values but shape ${JSON.stringify(shape)}`);
    }
    header[name] = { dtype: data instanceof Int32Array ? 'I32' : 'F32', shape, data_offsets: [offset, offset + data.byteLength] };
    offset += data.byteLength;
  }
  let headerBytes = new TextEncoder().encode(JSON.stringify(header));
  // Pad the header with spaces to 8 bytes so the data part stays aligned, as the reference writer does.
  const padded = Math.ceil(headerBytes.length / 8) * 8;
  if (padded !== headerBytes.length) {
    const withSpaces = new Uint8Array(padded).fill(0x20);
    withSpaces.set(headerBytes);
    headerBytes = withSpaces;
  }
  const out = new Uint8Array(8 + headerBytes.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  let position = 8 + headerBytes.length;
  for (const name of names) {
    const { data } = tensors[name];
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    if (isLittleEndian) {
      out.set(bytes, position);
    } else {
      const view = new DataView(out.buffer);
      for (let i = 0; i < data.length; i++) {
        if (data instanceof Int32Array) view.setInt32(position + 4 * i, data[i], true);
        else view.setFloat32(position + 4 * i, data[i], true);
      }
    }
    position += data.byteLength;
  }
  return out;
}
