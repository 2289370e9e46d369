import { describe, expect, inject, it } from 'vitest';
import { coloredGrayMnistFingerprint, fetchColoredGrayMnist } from './browser.js';
import type { BrowserDatasetCase } from './fetch.browser.cases.js';

const cases = inject('coloredGrayMnistCases');

async function fingerprintInBrowser(c: BrowserDatasetCase): Promise<string> {
  const data = await fetchColoredGrayMnist({ baseUrl: c.baseUrl, gzip: c.gzip, ...c.options });
  return coloredGrayMnistFingerprint(data);
}

describe('Colored-and-gray-MNIST fetched in a browser equals what Node builds from the same files', () => {
  it('all of MNIST, raw IDX files: same fingerprint for the seed, subsets and uniform test colors', async () => {
    expect(await fingerprintInBrowser(cases.fullRaw)).toBe(cases.fullRaw.fingerprint);
  });

  it('a gzip subset inflated with DecompressionStream: same fingerprint', async () => {
    expect(await fingerprintInBrowser(cases.subsetGzip)).toBe(cases.subsetGzip.fingerprint);
  });

  it('another seed gives another fingerprint (the comparison can fail)', async () => {
    const other = { ...cases.subsetGzip, options: { ...cases.subsetGzip.options, seed: 4 } };
    expect(await fingerprintInBrowser(other)).not.toBe(cases.subsetGzip.fingerprint);
  });
});
