import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { gunzip } from './fetch-mnist.js';
import { encodeIdx, IDX_UNSIGNED_BYTE, IdxFormatError } from './idx-format.js';

// gunzip is the HTTP loader's inflater (DecompressionStream, as in a browser); Node 20 has the same API.
const FILE = 'http://example.test/mnist/t10k-labels-idx1-ubyte.gz';

/** An IDX header of unsigned bytes announcing `dims`, without data. */
function header(dims: number[]): Uint8Array {
  const bytes = new Uint8Array(4 + 4 * dims.length);
  bytes.set([0, 0, IDX_UNSIGNED_BYTE, dims.length]);
  dims.forEach((d, i) => new DataView(bytes.buffer).setUint32(4 + 4 * i, d, false));
  return bytes;
}

describe('gunzip (the HTTP loader) inflates no more than the IDX header announces', () => {
  it('gives back the file, header and data', async () => {
    const file = encodeIdx([3, 4, 5], Uint8Array.from({ length: 60 }, (_, i) => i * 3));
    expect(await gunzip(gzipSync(file), FILE)).toEqual(file);
  });

  it('refuses a small file whose header claims more than its gzip data can hold', async () => {
    const claims = gzipSync(Uint8Array.from([...header([65536, 65536]), ...new Uint8Array(1000)]));
    const failure = gunzip(claims, FILE);
    await expect(failure).rejects.toBeInstanceOf(IdxFormatError);
    await expect(failure).rejects.toThrow(/^http:\/\/example\.test\/mnist\/t10k-labels-idx1-ubyte\.gz: truncated: the header announces 65536×65536 bytes of data, more than \d+ bytes of gzip data can hold/);
  });

  it('stops a stream that holds more than its header announces (16 MB of zeros behind a 10-label header)', async () => {
    const bomb = gzipSync(Uint8Array.from([...header([10]), ...new Uint8Array(16 << 20)]));
    expect(bomb.length).toBeLessThan(100_000);
    await expect(gunzip(bomb, FILE)).rejects.toThrow(/the gzip stream holds more than the header's 10 bytes of data/);
  });

  it('names the file for gzip data that does not inflate', async () => {
    const cut = gzipSync(encodeIdx([100], new Uint8Array(100).fill(7))).subarray(0, 20);
    await expect(gunzip(cut, FILE)).rejects.toThrow(/t10k-labels-idx1-ubyte\.gz: gzip data is corrupt or truncated/);
  });
});
