// What the browser tests' global setup (Node) hands to the tests in the browser.
import type { ColoredGrayMnistGeneratorOptions } from './colored-mnist.js';

export interface BrowserDatasetCase {
  /** Where the test server serves the IDX files. */
  baseUrl: string;
  gzip: boolean;
  options: ColoredGrayMnistGeneratorOptions;
  /** `coloredGrayMnistFingerprint` of `buildColoredGrayMnist` in Node on the same files. */
  fingerprint: string;
}

declare module 'vitest' {
  export interface ProvidedContext {
    coloredGrayMnistCases: { fullRaw: BrowserDatasetCase; subsetGzip: BrowserDatasetCase };
  }
}
