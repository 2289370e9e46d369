import type { KernelHost } from './host.js';

interface WorkerLike {
  postMessage(message: unknown): void;
}

const scope = globalThis as unknown as {
  Worker?: new (url: string, options?: { name?: string }) => WorkerLike;
  WorkerGlobalScope?: unknown;
  Blob: new (parts: string[], options: { type: string }) => object;
  URL: { createObjectURL(blob: object): string };
};

const scriptUrls = new Map<string, string>();

/** One blob: URL per loop source, kept for the page's lifetime (pool threads start once per backend). */
function poolScriptUrl(loopSource: string): string {
  let url = scriptUrls.get(loopSource);
  if (url === undefined) {
    // A blob: worker has the page's origin and cross-origin isolation, so it can share the memory.
    const script = `self.onmessage = (event) => { self.onmessage = null; (${loopSource})(event.data); };`;
    url = scope.URL.createObjectURL(new scope.Blob([script], { type: 'text/javascript' }));
    scriptUrls.set(loopSource, url);
  }
  return url;
}

export const host: KernelHost = {
  env: () => undefined,
  // Browsers that have relaxed SIMD ship it on (Chrome 114+); there is no flag to set.
  allowRelaxedSimd: () => {},
  // A page's main thread may not block; a dedicated worker (where training should run) may.
  canBlock: scope.WorkerGlobalScope !== undefined && scope.Worker !== undefined,
  startPoolThread: (loopSource, data) => {
    if (scope.Worker === undefined) throw new Error('@mm/backend: this browser thread cannot start workers for the kernel pool');
    const worker = new scope.Worker(poolScriptUrl(loopSource), { name: '@mm/backend kernel pool' });
    worker.postMessage(data);
  },
  // Bundlers load tfjs-core as an ES module, whose namespace cannot be patched.
  tfjsCoreExports: () => undefined,
};
