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
