import fc from 'fast-check';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { encodeIdx, IDX_IMAGES_MAGIC, IDX_LABELS_MAGIC, IdxFormatError, parseIdx, type IdxArray } from './idx.js';

const FILE = 'fuzzed-idx3-ubyte';

/** The parse's outcome: the array, or the IdxFormatError naming the file; anything else fails the test. */
function outcome(bytes: Uint8Array, magic?: number): IdxArray | IdxFormatError {
  try {
    return parseIdx(bytes, FILE, magic);
  } catch (error) {
    if (!(error instanceof IdxFormatError)) throw error;
    expect(error.file).toBe(FILE);
    expect(error.message.startsWith(`${FILE}: `)).toBe(true);
    return error;
  }
}

/** What an accepted file guarantees: an IDX magic of unsigned bytes, and exactly the data its dimensions announce. */
function expectConsistent(result: IdxArray): void {
  expect(result.magic >>> 8).toBe(0x08);
  expect(result.dims.length).toBe(result.magic & 0xff);
  expect(result.data.length).toBe(result.dims.reduce((a, b) => a * b, 1));
}

const idxFile = fc
  .array(fc.integer({ min: 0, max: 6 }), { minLength: 1, maxLength: 3 })
  .chain((dims) => fc.uint8Array({ minLength: dims.reduce((a, b) => a * b, 1), maxLength: dims.reduce((a, b) => a * b, 1) }).map((data) => ({ dims, data })));

describe('IDX fuzzing', () => {
  it('round-trips any dimensions and bytes, plain and gzip-compressed', () => {
    fc.assert(
      fc.property(idxFile, fc.boolean(), ({ dims, data }, gzip) => {
        const bytes = encodeIdx(dims, data);
        const back = parseIdx(gzip ? gzipSync(bytes) : bytes, FILE);
        expect(back.dims).toEqual(dims);
        expect(Array.from(back.data)).toEqual(Array.from(data));
      }),
    );
  });

  it('random bytes (and random bytes behind a gzip or IDX magic): an IdxFormatError or a consistent array', () => {
    const prefix = fc.constantFrom([], [0x1f, 0x8b], [0, 0, 8, 1], [0, 0, 8, 3]);
    fc.assert(
      fc.property(prefix, fc.uint8Array({ maxLength: 120 }), fc.option(fc.constantFrom(IDX_IMAGES_MAGIC, IDX_LABELS_MAGIC)), (p, tail, magic) => {
        const result = outcome(Uint8Array.from([...p, ...tail]), magic ?? undefined);
        if (!(result instanceof IdxFormatError)) expectConsistent(result);
      }),
    );
  });

  it('a valid file damaged (bytes overwritten, cut short, grown), plain or gzip: an IdxFormatError or a consistent array', () => {
    const damage = fc.oneof(
      fc.record({ kind: fc.constant('overwrite' as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
      fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
      fc.record({ kind: fc.constant('append' as const), extra: fc.uint8Array({ minLength: 1, maxLength: 8 }) }),
    );
    fc.assert(
      fc.property(idxFile, fc.boolean(), fc.array(damage, { minLength: 1, maxLength: 3 }), ({ dims, data }, gzip, damages) => {
        let bytes = encodeIdx(dims, data);
        if (gzip) bytes = gzipSync(bytes);
        for (const d of damages) {
          if (d.kind === 'overwrite' && bytes.length > 0) bytes[d.at % bytes.length] = d.value;
          if (d.kind === 'truncate') bytes = bytes.slice(0, d.at % (bytes.length + 1));
          if (d.kind === 'append') bytes = Uint8Array.from([...bytes, ...d.extra]);
        }
        const result = outcome(bytes);
        if (!(result instanceof IdxFormatError)) expectConsistent(result);
      }),
    );
  });
});

describe('IDX hostile cases', () => {
  const header = (dims: number[]) => {
    const out = new Uint8Array(4 + 4 * dims.length);
    out[2] = 0x08;
    out[3] = dims.length;
    dims.forEach((d, i) => new DataView(out.buffer).setUint32(4 + 4 * i, d, false));
    return out;
  };

  it('wrong magic: float data, rank 0, labels for images', () => {
    expect(outcome(Uint8Array.from([0, 0, 0x0d, 1, 0, 0, 0, 0]))).toMatchObject({ message: expect.stringMatching(/wrong magic number .*not an IDX file of unsigned bytes/) });
    expect(outcome(Uint8Array.from([0, 0, 8, 0]))).toMatchObject({ message: expect.stringMatching(/wrong magic number/) });
    expect(outcome(encodeIdx([2], Uint8Array.from([1, 2])), IDX_IMAGES_MAGIC)).toMatchObject({ message: expect.stringMatching(/expected 2051 \(an IDX image file\); images and labels may be swapped/) });
  });

  it('dimensions whose product overflows, or that announce gigabytes, are errors without an allocation', () => {
    const overflow = outcome(Uint8Array.from([...header([0xffffffff, 0xffffffff, 0xffffffff]), 1, 2, 3]));
    expect(overflow).toBeInstanceOf(IdxFormatError);
    expect((overflow as Error).message).toMatch(/truncated: the header announces 4294967295×4294967295×4294967295 = .* bytes of data but the file holds 3/);
    // 255 dimensions (the largest rank the magic can hold), header only.
    expect(outcome(header(new Array(255).fill(2)))).toMatchObject({ message: expect.stringMatching(/truncated: the header announces/) });
    // A 1 KB gzip file whose header claims 4 GB: refused before inflating.
    const claims = outcome(gzipSync(Uint8Array.from([...header([65536, 65536]), ...new Uint8Array(1000)])));
    expect((claims as Error).message).toMatch(/more than \d+ bytes of gzip data can hold/);
  });

  it('a gzip bomb (1 GB of zeros in ~1 MB behind a 10-label header) stops at the announced size', () => {
    const member = gzipSync(new Uint8Array(1 << 20));
    const bomb = Buffer.concat([gzipSync(Uint8Array.from([...header([10]), ...new Uint8Array(10)])), ...new Array(1024).fill(member)]);
    expect(bomb.length).toBeLessThan(2 << 20);
    const result = outcome(bomb);
    expect(result).toBeInstanceOf(IdxFormatError);
    expect((result as Error).message).toMatch(/the gzip stream holds more than the header's 10 bytes of data/);
  });

  it('truncated data names both counts', () => {
    const result = outcome(encodeIdx([3, 2, 2], new Uint8Array(12)).subarray(0, 20));
    expect((result as Error).message).toMatch(/the header announces 3×2×2 = 12 bytes of data but the file holds 4/);
  });
});
