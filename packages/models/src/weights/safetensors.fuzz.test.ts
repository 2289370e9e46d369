import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeSafetensors, MAX_SAFETENSORS_HEADER_BYTES, parseSafetensors, SafetensorsFormatError, type SafetensorsFile } from './safetensors.js';

const SOURCE = 'fuzzed.safetensors';
const BYTES: Record<string, number> = { F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1 };

/** A file with this exact header text and body (the header length field is the text's length). */
function rawFile(headerText: string, body: Uint8Array = new Uint8Array(0)): Uint8Array {
  const json = new TextEncoder().encode(headerText);
  const out = new Uint8Array(8 + json.length + body.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  out.set(body, 8 + json.length);
  return out;
}

const fileOf = (header: unknown, body?: Uint8Array) => rawFile(JSON.stringify(header), body);

/** The parse's outcome: the file, or the SafetensorsFormatError; anything else fails the test. */
function outcome(data: Uint8Array): SafetensorsFile | SafetensorsFormatError {
  try {
    return parseSafetensors(data, SOURCE);
  } catch (error) {
    if (!(error instanceof SafetensorsFormatError)) throw error;
    expect(error.message.startsWith(`${SOURCE}: not a valid safetensors file: `)).toBe(true);
    return error;
  }
}

/** What an accepted file guarantees: every tensor's bytes are its own, inside the data, of the size its dtype and shape need. */
function expectConsistent(file: SafetensorsFile, data: Uint8Array): void {
  const spans: [number, number][] = [];
  for (const t of file.tensors.values()) {
    const count = t.shape.reduce((a, b) => a * b, 1);
    expect(t.bytes.byteLength).toBe(count * BYTES[t.dtype]);
    expect(t.bytes.byteOffset - data.byteOffset + t.bytes.byteLength).toBeLessThanOrEqual(data.byteLength);
    expect(t.toFloat32().length).toBe(count);
    if (t.bytes.byteLength > 0) spans.push([t.bytes.byteOffset, t.bytes.byteOffset + t.bytes.byteLength]);
  }
  spans.sort((a, b) => a[0] - b[0]);
  for (let i = 1; i < spans.length; i++) expect(spans[i][0]).toBeGreaterThanOrEqual(spans[i - 1][1]);
}

const tensorName = fc.string({ minLength: 1, maxLength: 12 }).filter((n) => n !== '__metadata__');
const smallShape = fc.array(fc.integer({ min: 0, max: 4 }), { maxLength: 3 });
const tensorData = smallShape.chain((shape) =>
  fc.float32Array({ minLength: shape.reduce((a, b) => a * b, 1), maxLength: shape.reduce((a, b) => a * b, 1) }).map((data) => ({ shape, data })),
);
const validFile = fc.dictionary(tensorName, tensorData, { maxKeys: 5 }).map((tensors) => ({ tensors, bytes: encodeSafetensors(tensors, { format: 'pt' }) }));

describe('safetensors fuzzing', () => {
  it('round-trips any float32 tensors bit for bit', () => {
    fc.assert(
      fc.property(validFile, ({ tensors, bytes }) => {
        const file = parseSafetensors(bytes, SOURCE);
        expect([...file.tensors.keys()].sort()).toEqual(Object.keys(tensors).sort());
        for (const [name, { shape, data }] of Object.entries(tensors)) {
          const back = file.tensors.get(name)!;
          expect(back.shape).toEqual(shape);
          expect(new Uint32Array(back.toFloat32().buffer.slice(0))).toEqual(new Uint32Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength)));
        }
      }),
    );
  });

  it('random bytes: a SafetensorsFormatError or a consistent file, nothing else', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (data) => {
        const result = outcome(data);
        if (!(result instanceof SafetensorsFormatError)) expectConsistent(result, data);
      }),
    );
  });

  it('a valid file damaged (bytes overwritten, cut short, header length changed) is rejected or still consistent', () => {
    const damage = fc.oneof(
      fc.record({ kind: fc.constant('overwrite' as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
      fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
      fc.record({ kind: fc.constant('length' as const), value: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }) }),
    );
    fc.assert(
      fc.property(validFile, fc.array(damage, { minLength: 1, maxLength: 4 }), ({ bytes }, damages) => {
        let data = bytes.slice();
        for (const d of damages) {
          if (d.kind === 'overwrite' && data.length > 0) data[d.at % data.length] = d.value;
          if (d.kind === 'truncate') data = data.slice(0, d.at % (data.length + 1));
          if (d.kind === 'length' && data.length >= 8) new DataView(data.buffer).setBigUint64(0, d.value, true);
        }
        const result = outcome(data);
        if (!(result instanceof SafetensorsFormatError)) expectConsistent(result, data);
      }),
    );
  });

  it('any JSON header (valid or hostile entries, offsets, dtypes, metadata) is rejected or consistent', () => {
    const offsets = fc.oneof(fc.tuple(fc.integer({ min: -2, max: 40 }), fc.integer({ min: -2, max: 40 })), fc.jsonValue());
    const entry = fc.oneof(
      fc.record({
        dtype: fc.oneof(fc.constantFrom(...Object.keys(BYTES), 'C64', 'toString', '__proto__', 'constructor', ''), fc.jsonValue()),
        shape: fc.oneof(fc.array(fc.integer({ min: -1, max: 5 }), { maxLength: 3 }), fc.jsonValue()),
        data_offsets: offsets,
      }),
      fc.jsonValue(),
    );
    const header = fc.dictionary(fc.oneof(tensorName, fc.constantFrom('__metadata__', '__proto__', 'constructor')), entry, { maxKeys: 4 });
    fc.assert(
      fc.property(header, fc.uint8Array({ maxLength: 40 }), (h, body) => {
        const data = fileOf(h, body);
        const result = outcome(data);
        if (!(result instanceof SafetensorsFormatError)) expectConsistent(result, data);
      }),
    );
  });
});

describe('safetensors hostile cases', () => {
  const f32 = (shape: number[], begin: number) => ({ dtype: 'F32', shape, data_offsets: [begin, begin + 4 * shape.reduce((a, b) => a * b, 1)] });
  const cases: [string, Uint8Array, RegExp][] = [
    ['header length beyond the file', (() => { const d = fileOf({ a: f32([1], 0) }, new Uint8Array(4)); new DataView(d.buffer).setBigUint64(0, 500n, true); return d; })(), /header length 500 exceeds the file/],
    ['absurdly large header length (2^64 - 1)', (() => { const d = new Uint8Array(16); new DataView(d.buffer).setBigUint64(0, (1n << 64n) - 1n, true); return d; })(), /beyond the 100000000-byte limit/],
    ['header length just over the limit', (() => { const d = new Uint8Array(16); new DataView(d.buffer).setBigUint64(0, BigInt(MAX_SAFETENSORS_HEADER_BYTES + 1), true); return d; })(), /beyond the 100000000-byte limit/],
    ['non-JSON header', rawFile('{"a": {"dtype": "F32",'), /header is not UTF-8 JSON/],
    ['header not UTF-8', (() => { const d = rawFile('{"a":1}'); d[10] = 0xff; return d; })(), /header is not UTF-8 JSON/],
    ['header a JSON array', fileOf([1, 2]), /header is not a JSON object/],
    ['offsets past the data', fileOf({ a: { dtype: 'F32', shape: [2], data_offsets: [4, 12] } }, new Uint8Array(8)), /'a' spans bytes \[4, 12\) but the data part has 8 bytes/],
    ['reversed offsets', fileOf({ a: { dtype: 'F32', shape: [1], data_offsets: [8, 4] } }, new Uint8Array(8)), /'a' has reversed data_offsets \[8, 4\]/],
    ['overlapping tensors', fileOf({ a: f32([2], 0), b: f32([2], 4) }, new Uint8Array(12)), /tensors 'a' \[0, 8\) and 'b' \[4, 12\) overlap/],
    ['one tensor inside another', fileOf({ a: f32([3], 0), b: f32([1], 4) }, new Uint8Array(12)), /'a' \[0, 12\) and 'b' \[4, 8\) overlap/],
    ['unknown dtype', fileOf({ a: { dtype: 'C64', shape: [1], data_offsets: [0, 8] } }, new Uint8Array(8)), /unsupported dtype "C64"/],
    ['a dtype named like an Object property', fileOf({ a: { dtype: 'toString', shape: [1], data_offsets: [0, 4] } }, new Uint8Array(4)), /unsupported dtype "toString"/],
    ['shape and byte length disagree', fileOf({ a: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, new Uint8Array(8)), /needs 12 bytes, its offsets give 8/],
    ['shape whose size overflows', fileOf({ a: { dtype: 'F32', shape: [2 ** 40, 2 ** 40], data_offsets: [0, 8] } }, new Uint8Array(8)), /needs .* bytes, its offsets give 8/],
    ['negative or fractional shape', fileOf({ a: { dtype: 'F32', shape: [2, -1], data_offsets: [0, 8] } }, new Uint8Array(8)), /invalid shape \[2,-1\]/],
    ['offsets beyond safe integers', fileOf({ a: { dtype: 'U8', shape: [0], data_offsets: [2 ** 60, 2 ** 60] } }), /invalid data_offsets/],
    ['duplicate names', rawFile('{"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}, "a": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}}', new Uint8Array(8)), /names 'a' twice/],
    ['duplicate names written with escapes', rawFile('{"a": {"dtype": "U8", "shape": [1], "data_offsets": [0, 1]}, "\\u0061": {"dtype": "U8", "shape": [1], "data_offsets": [1, 2]}}', new Uint8Array(2)), /names 'a' twice/],
    ['an entry that is null', fileOf({ a: null }), /tensor 'a' is null, not an object/],
    ['metadata with a non-string value', fileOf({ __metadata__: { format: 1 } }), /__metadata__ must map names to strings/],
  ];
  it.each(cases)('%s', (_, data, message) => {
    const result = outcome(data);
    expect(result).toBeInstanceOf(SafetensorsFormatError);
    expect((result as Error).message).toMatch(message);
  });

  it('keys repeated inside an entry or inside metadata are not mistaken for repeated tensor names', () => {
    const file = parseSafetensors(rawFile('{"__metadata__": {"a": "x", "b": "a"}, "a": {"dtype": "U8", "shape": [1], "data_offsets": [0, 1], "x": {"dtype": 1}}}', new Uint8Array(1)), SOURCE);
    expect([...file.tensors.keys()]).toEqual(['a']);
    expect(file.metadata).toEqual({ a: 'x', b: 'a' });
  });
});
