// How the repository serves pages and drives a browser, shared by the example's Vite config,
// the browser tests and their runner.

/**
 * Response headers that make a page cross-origin isolated, which is what lets tfjs-backend-wasm
 * (and @mm/backend's kernel pool) use SharedArrayBuffer, i.e. threads.
 */
export const CROSS_ORIGIN_ISOLATION_HEADERS = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
};

// The browser the browser tests drive: Debian's Chromium (apt-get install chromium), never a
// browser download (Playwright's CDN is not reachable from CI). MM_CHROMIUM points elsewhere.
export const CHROMIUM_PATH = process.env.MM_CHROMIUM || '/usr/bin/chromium';

/**
 * Flags for a headless run on a machine without a GPU and without outside network:
 * WebGL2 and WebGPU then run on SwiftShader (a CPU rasteriser: right for correctness, not for
 * speed), and nothing phones home.
 */
export const CHROMIUM_ARGS = [
  // Tests run as root in CI containers, where Chromium's sandbox cannot start.
  '--no-sandbox',
  // Chrome's automatic SwiftShader fallback for WebGL is being removed; ask for it explicitly.
  '--enable-unsafe-swiftshader',
  // A WebGPU adapter on SwiftShader (without these, requestAdapter() returns null here).
  '--enable-unsafe-webgpu',
  '--use-webgpu-adapter=swiftshader',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-quic',
  '--no-first-run',
];

/**
 * A Vite plugin that serves folders as plain static files at the given URL prefixes
 * (`{ '/mnist/': '/abs/dir' }`), in the dev server and in `vite preview`. Vite's own `/@fs/`
 * route would treat extensionless files (MNIST's IDX files) as modules to transform.
 * @param {Record<string, string>} mounts URL prefix (ending in '/') → absolute folder
 * @returns {import('vite').Plugin}
 */
export function serveFolders(mounts) {
  const middleware = async (request, response, next) => {
    const { createReadStream, statSync } = await import('node:fs');
    const { join, normalize, sep } = await import('node:path');
    const path = decodeURIComponent((request.url ?? '').split('?')[0]);
    const prefix = Object.keys(mounts).find((p) => path.startsWith(p));
    if (prefix === undefined) return next();
    const root = mounts[prefix];
    const file = normalize(join(root, path.slice(prefix.length)));
    if (!file.startsWith(root + sep) || !statSync(file, { throwIfNoEntry: false })?.isFile()) {
      response.statusCode = 404;
      return response.end();
    }
    response.setHeader('Content-Type', 'application/octet-stream');
    createReadStream(file).pipe(response);
  };
  return {
    name: 'mm-serve-folders',
    configureServer: (server) => void server.middlewares.use(middleware),
    configurePreviewServer: (server) => void server.middlewares.use(middleware),
  };
}
