import type { CgMnistSplit, ColoredGrayMnist } from './colored-mnist.js';

const hex = (bytes: ArrayBuffer) => Array.from(new Uint8Array(bytes), (b) => b.toString(16).padStart(2, '0')).join('');

/** The bytes of every array of a split that the generator fills, in a fixed order. */
function splitArrays(split: CgMnistSplit): ArrayBufferView[] {
  return [split.sourceIndices, split.labels, split.colorClasses, split.sampleColors, split.colored, split.gray];
}

/**
 * A SHA-256 fingerprint (hex) of every generated value of a data set: which MNIST samples each
 * split holds, in which order, their labels, color classes, colors and pixels. Equal
 * fingerprints mean equal data, e.g. `buildColoredGrayMnist` in Node and
 * `fetchColoredGrayMnist` in a browser for the same files and options. Uses WebCrypto
 * (browsers in secure contexts, Node ≥ 20).
 */
export async function coloredGrayMnistFingerprint(data: ColoredGrayMnist): Promise<string> {
  const arrays = [data.train, data.validation, data.test].flatMap(splitArrays);
  // One digest per array, then one over the digests: no copy of the (large) pixel arrays.
  const digests = await Promise.all(
    arrays.map((view) => crypto.subtle.digest('SHA-256', new Uint8Array(view.buffer as ArrayBuffer, view.byteOffset, view.byteLength))),
  );
  const joined = new Uint8Array(digests.length * 32);
  digests.forEach((digest, i) => joined.set(new Uint8Array(digest), i * 32));
  return hex(await crypto.subtle.digest('SHA-256', joined));
}
