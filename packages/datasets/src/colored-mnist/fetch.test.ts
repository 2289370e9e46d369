import { createServer, type Server } from 'node:http';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildColoredGrayMnist } from './build.js';
import { fetchColoredGrayMnist } from './fetch.js';
import { coloredGrayMnistFingerprint } from './fingerprint.js';
import { writeMnistSubset } from '../mnist/subset.js';
import { IdxFormatError } from '../mnist/idx-format.js';

const workDir = mkdtempSync(join(tmpdir(), 'mm-fetch-mnist-'));
const SAMPLES = { train: 1200, test: 500 };
const OPTIONS = { seed: 4, trainSize: 800, testSize: 300 };

/** Serves `workDir` over HTTP; `/encoded/…` sends a `.gz` file as `Content-Encoding: gzip` (the client then inflates it). */
function serve(): Promise<{ server: Server; base: string }> {
  const server = createServer((request, response) => {
    const path = decodeURIComponent(new URL(request.url ?? '/', 'http://x').pathname);
    const encoded = path.startsWith('/encoded/');
    const file = join(workDir, encoded ? path.replace('/encoded/', '/gz/') : path);
    let body: Buffer;
    try {
      body = readFileSync(file);
    } catch {
      response.writeHead(404, 'Not Found').end();
      return;
    }
    response.writeHead(200, encoded ? { 'Content-Encoding': 'gzip' } : {}).end(body);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => {
    const address = server.address() as { port: number };
    resolve({ server, base: `http://127.0.0.1:${address.port}` });
  }));
}

describe('fetchColoredGrayMnist (MNIST over HTTP) gives the same data as buildColoredGrayMnist', () => {
  let server: Server;
  let base: string;
  let expected: string;

  beforeAll(async () => {
    writeMnistSubset(join(workDir, 'gz'), { samples: SAMPLES });
    writeMnistSubset(join(workDir, 'raw'), { samples: SAMPLES, gzip: false });
    ({ server, base } = await serve());
    expected = await coloredGrayMnistFingerprint(buildColoredGrayMnist({ dir: join(workDir, 'gz'), ...OPTIONS }));
  });
  afterAll(() => {
    server?.close();
    rmSync(workDir, { recursive: true, force: true });
  });

  it('from gzip files', async () => {
    const data = await fetchColoredGrayMnist({ baseUrl: `${base}/gz/`, ...OPTIONS });
    expect(data.train.size).toBe(800);
    expect(data.files.train.images).toBe(`${base}/gz/train-images-idx3-ubyte.gz`);
    expect(await coloredGrayMnistFingerprint(data)).toBe(expected);
  });

  it('from raw files, and from gzip the server decodes itself (Content-Encoding)', async () => {
    const raw = await fetchColoredGrayMnist({ baseUrl: `${base}/raw`, gzip: false, ...OPTIONS });
    expect(await coloredGrayMnistFingerprint(raw)).toBe(expected);
    const encoded = await fetchColoredGrayMnist({ baseUrl: `${base}/encoded/`, ...OPTIONS });
    expect(await coloredGrayMnistFingerprint(encoded)).toBe(expected);
  });

  it('gives another fingerprint for another seed', async () => {
    const other = await fetchColoredGrayMnist({ baseUrl: `${base}/gz/`, ...OPTIONS, seed: 5 });
    expect(await coloredGrayMnistFingerprint(other)).not.toBe(expected);
  });

  it('names the URL and what to check when a file is not served', async () => {
    const failure = fetchColoredGrayMnist({ baseUrl: `${base}/missing/`, ...OPTIONS });
    await expect(failure).rejects.toThrow(IdxFormatError);
    await expect(failure).rejects.toThrow(/missing\/t(rain|10k)-(images|labels)-idx\d-ubyte\.gz: HTTP 404 Not Found: .*check baseUrl and gzip/);
  });

  it('rejects a relative baseUrl outside a page', async () => {
    await expect(fetchColoredGrayMnist({ baseUrl: 'mnist/', ...OPTIONS })).rejects.toThrow(/baseUrl "mnist\/" is not a URL; outside a page it must be absolute/);
  });
});

describe('writeMnistSubset', () => {
  it('rejects more samples than the split has', () => {
    expect(() => writeMnistSubset(join(workDir, 'too-many'), { samples: { train: 10, test: 10_001 } })).toThrow(
      /samples\.test must be an integer from 1 to 10000/,
    );
  });
});
