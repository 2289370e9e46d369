// MNIST over HTTP, with web APIs only (fetch, DecompressionStream): browsers, workers, Node ≥ 18.
import {
  announcedInflatedBytes,
  corruptGzip,
  gzipHoldsMore,
  IDX_IMAGES_MAGIC,
  IDX_LABELS_MAGIC,
  idxHeaderDims,
  IdxFormatError,
  isGzip,
  parseInflatedIdx,
  type IdxArray,
} from './idx-format.js';
import { mnistFileStems, mnistFromIdx, type MnistImages, type MnistSplit } from './mnist-format.js';

export interface FetchMnistOptions {
  /** URL of the folder that serves the IDX files: absolute, or relative to the page. */
  baseUrl: string | URL;
  /** The files are served gzip-compressed as `<name>.gz` (default true); false: the raw files. */
  gzip?: boolean;
  /** The fetch to use (default: the global one), e.g. one that caches or reports progress. */
  fetch?: typeof fetch;
}

const concatenate = (chunks: readonly Uint8Array[], length: number): Uint8Array => {
  const out = new Uint8Array(length);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.length;
  }
  return out;
};

/**
 * Inflates a gzip-compressed IDX file with the platform's DecompressionStream, but never more
 * than its header announces (as `parseIdx` does in Node): a small file that claims or holds
 * gigabytes is an IdxFormatError, not an allocation. Data that is not IDX stops after its start,
 * which is enough for the parser to name the wrong magic number.
 */
export async function gunzip(bytes: Uint8Array, file: string): Promise<Uint8Array> {
  const reader = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream().pipeThrough(new DecompressionStream('gzip')).getReader();
  const chunks: Uint8Array[] = [];
  let length = 0;
  /** What the header announces, once it has been inflated, and the inflated size that makes. */
  let announced: { dims: number[]; bytes: number } | undefined;
  try {
    for (let read = await reader.read(); !read.done; read = await reader.read()) {
      chunks.push(read.value);
      length += read.value.length;
      if (announced === undefined) {
        const dims = idxHeaderDims(concatenate(chunks, length));
        if (dims === 'not-idx') break;
        if (dims !== 'incomplete') announced = { dims, bytes: announcedInflatedBytes(file, dims, bytes.length) };
      }
      if (announced !== undefined && length > announced.bytes) throw gzipHoldsMore(file, announced.dims);
    }
  } catch (error) {
    if (error instanceof IdxFormatError) throw error;
    throw corruptGzip(file, error);
  } finally {
    // Stops the inflater when reading ended early; a no-op after the end of the stream.
    reader.cancel().catch(() => {});
  }
  return concatenate(chunks, length);
}

/** `name` inside the folder `baseUrl`, resolved against the page when `baseUrl` is relative. */
function fileUrl(baseUrl: string | URL, name: string): URL {
  const folder = String(baseUrl).endsWith('/') ? String(baseUrl) : `${baseUrl}/`;
  const page = (globalThis as { location?: { href: string } }).location?.href;
  try {
    return new URL(name, new URL(folder, page));
  } catch {
    throw new TypeError(`baseUrl ${JSON.stringify(String(baseUrl))} is not a URL; outside a page it must be absolute (https://…/mnist/)`);
  }
}

/**
 * Fetches and parses one IDX file, gzip-compressed or not (detected from the content, so a
 * server that decodes `Content-Encoding: gzip` itself is fine too).
 */
export async function fetchIdx(url: string | URL, expectedMagic?: number, fetchFn: typeof fetch = fetch): Promise<IdxArray> {
  const name = String(url);
  let response: Response;
  try {
    response = await fetchFn(url);
  } catch (error) {
    throw new IdxFormatError(name, `the request failed (${error instanceof Error ? error.message : String(error)}); is the server up and the URL right?`);
  }
  if (!response.ok) {
    throw new IdxFormatError(name, `HTTP ${response.status} ${response.statusText}: the server does not serve this file; check baseUrl and gzip (plain or .gz names)`);
  }
  let bytes: Uint8Array = new Uint8Array(await response.arrayBuffer());
  if (isGzip(bytes)) bytes = await gunzip(bytes, name);
  return parseInflatedIdx(bytes, name, expectedMagic);
}

/**
 * Fetches one MNIST split from `<baseUrl>/<LeCun's file name>[.gz]` and checks it as
 * `loadMnist` does: the same bytes give the same `MnistImages` in a browser and in Node.
 */
export async function fetchMnist(split: MnistSplit, options: FetchMnistOptions): Promise<MnistImages> {
  const stems = mnistFileStems(split);
  const suffix = options.gzip === false ? '' : '.gz';
  const urls = { images: fileUrl(options.baseUrl, stems.images + suffix), labels: fileUrl(options.baseUrl, stems.labels + suffix) };
  const [images, labels] = await Promise.all([
    fetchIdx(urls.images, IDX_IMAGES_MAGIC, options.fetch),
    fetchIdx(urls.labels, IDX_LABELS_MAGIC, options.fetch),
  ]);
  return mnistFromIdx(split, images, labels, { images: urls.images.href, labels: urls.labels.href });
}
