// `pnpm --filter @mm/example-browser measure [--scale tiny] [--steps 40] [--backends webgpu,webgl,wasm,cpu] [--screenshot file.png]`:
// builds the page, serves it as a static host would (cross-origin isolated), trains guided
// re-balancing on each backend in headless Chromium and prints the steps per second; with
// --screenshot, saves the page of the last backend after its run. On a machine without a GPU,
// Chromium renders WebGL and WebGPU with SwiftShader on the CPU.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { METHOD_NAMES, SCALE_NAMES, type RunSettings } from '../src/protocol.js';
import { buildPage, launchChromium, meanStepsPerSecond, servePage, trainOnPage } from '../src/testing/page-driver.js';

const { values } = parseArgs({
  options: {
    scale: { type: 'string', default: 'tiny' },
    steps: { type: 'string', default: '40' },
    backends: { type: 'string', default: 'webgpu,webgl,wasm,cpu' },
    method: { type: 'string', default: 'guided' },
    screenshot: { type: 'string' },
  },
});
const scale = values.scale as RunSettings['scale'];
if (!SCALE_NAMES.includes(scale)) throw new Error(`--scale must be one of ${SCALE_NAMES.join(', ')}, got ${values.scale}`);
const method = values.method as RunSettings['method'];
if (!METHOD_NAMES.includes(method)) throw new Error(`--method must be one of ${METHOD_NAMES.join(', ')}, got ${values.method}`);
const steps = Number(values.steps);
if (!(Number.isInteger(steps) && steps > 5)) throw new Error(`--steps must be an integer above 5 (the first 5 are not timed), got ${values.steps}`);
const backends = values.backends!.split(',') as RunSettings['backend'][];

const outDir = mkdtempSync(join(tmpdir(), 'mm-page-measure-'));
await buildPage(outDir);
const { url, server } = await servePage(outDir);
const browser = await launchChromium();
console.log(`${method}, scale ${scale}, ${steps} steps per backend; steps/s averaged over steps 6–${steps} (evaluations excluded)`);
try {
  for (const backend of backends) {
    const page = await browser.newPage({ viewport: { width: 1240, height: 900 } });
    const started = Date.now();
    const record = await trainOnPage(page, url, { method, scale, backend, steps, timeoutMs: 3_600_000 });
    if (values.screenshot !== undefined && backend === backends.at(-1)) {
      await page.screenshot({ path: values.screenshot, fullPage: true });
      console.log(`screenshot of the ${backend} run: ${values.screenshot}`);
    }
    await page.close();
    if (record.error) {
      console.log(`${backend}: failed after ${record.steps.length} steps: ${record.error}`);
      continue;
    }
    const ready = record.ready!;
    const threads = ready.backend === 'wasm' ? ` (${ready.threads} threads)` : '';
    console.log(`${backend}${threads}: ${meanStepsPerSecond(record).toFixed(2)} steps/s; ${((Date.now() - started) / 1000).toFixed(0)} s for ${record.steps.length} steps with start-up and evaluations; loss ${record.steps[0].loss.toFixed(3)} → ${record.steps.at(-1)!.loss.toFixed(3)}`);
  }
} finally {
  await browser.close();
  await server.close();
  rmSync(outDir, { recursive: true, force: true });
}
