// Global setup of the browser tests (vitest.browser.config.ts), run in Node: writes a gzip MNIST
// subset where the test server serves it and computes, with the Node loader, the fingerprints
// the browser must reproduce from the same files fetched over HTTP.
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { defaultMnistDir } from '../mnist/mnist.js';
import { writeMnistSubset } from '../mnist/subset.js';
import { buildColoredGrayMnist } from './build.js';
import { coloredGrayMnistFingerprint } from './fingerprint.js';
import type {} from './fetch.browser.cases.js';

const FULL = '/test-data/mnist-full/';
const SUBSET = '/test-data/mnist-subset-gz/';

/** The folders the test server serves (URL prefix → folder), for `serveFolders` in the config. */
export function mnistTestMounts(root: string): Record<string, string> {
  return { [FULL]: defaultMnistDir(), [SUBSET]: join(root, 'node_modules', '.cache', 'mm-browser-tests', 'mnist-subset-gz') };
}

export default async function setup(project: TestProject): Promise<void> {
  const { [FULL]: fullDir, [SUBSET]: subsetDir } = mnistTestMounts(project.config.root);
  writeMnistSubset(subsetDir, { samples: { train: 3000, test: 1000 } });
  const fullOptions = { seed: 7, trainSize: 1500, testSize: 600, testColoring: 'uniform' } as const;
  const subsetOptions = { seed: 3, validationFraction: 0.25 };
  project.provide('coloredGrayMnistCases', {
    fullRaw: {
      baseUrl: FULL,
      gzip: false,
      options: fullOptions,
      fingerprint: await coloredGrayMnistFingerprint(buildColoredGrayMnist({ dir: fullDir, ...fullOptions })),
    },
    subsetGzip: {
      baseUrl: SUBSET,
      gzip: true,
      options: subsetOptions,
      fingerprint: await coloredGrayMnistFingerprint(buildColoredGrayMnist({ dir: subsetDir, ...subsetOptions })),
    },
  });
}
