import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright';
import type { PreviewServer } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXAMPLE_DIR } from './testing/example-dir.js';
import { buildPage, launchChromium, readRecord, resumeOnPage, servePage, trainOnPage, type RunRecord } from './testing/page-driver.js';

/** Past the first epoch (31 steps at the tiny scale), when guided re-balancing may start. */
const WASM_STEPS = 36;
/** SwiftShader renders WebGL on the CPU, a few seconds per step here: a few steps prove the path. */
const WEBGL_STEPS = 6;
const SCREENSHOTS = join(EXAMPLE_DIR, 'test-results');

const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;

/** Counts of points drawn in each chart, as the page rendered them. */
async function drawnPoints(page: Page): Promise<Record<string, Record<string, number>>> {
  return page.evaluate(() => {
    const charts: Record<string, Record<string, number>> = {};
    for (const id of ['loss-chart', 'accuracy-chart', 'signal-chart']) {
      charts[id] = {};
      for (const path of document.querySelectorAll(`#${id} path.series`)) charts[id][path.getAttribute('data-series')!] = Number(path.getAttribute('data-points'));
    }
    return charts;
  });
}

/** What every run must show: steps numbered 1, 2, … with finite, changing losses, a flat tensor count, charts drawn with every point. */
async function expectHealthyRun(page: Page, record: RunRecord, backend: string, minSteps: number): Promise<void> {
  expect(record.error).toBeUndefined();
  expect(record.ready?.backend).toBe(backend);
  const steps = record.steps;
  expect(steps.length).toBeGreaterThanOrEqual(minSteps);
  expect(steps.map((s) => s.step)).toEqual(steps.map((_, i) => i + 1));
  const losses = steps.map((s) => s.loss);
  expect(losses.every(Number.isFinite)).toBe(true);
  expect(new Set(losses).size).toBeGreaterThan(1);
  // Optimizer slots appear at the first step; after that a step leaves no tensor behind.
  expect(new Set(steps.slice(1).map((s) => s.tensors))).toEqual(new Set([steps[1].tensors]));
  expect(steps.slice(5).every((s) => !Number.isFinite(s.stepsPerSecond) || s.stepsPerSecond > 0)).toBe(true);
  // d_speed is reported once both branches have moved, from the first step on.
  expect(steps.every((s) => typeof s.metrics.dSpeed === 'number')).toBe(true);
  // The evaluation before the first step, then one every 10 steps (the last may still be due when the run paused).
  expect(record.evaluations.length).toBeGreaterThanOrEqual(1 + Math.floor((steps.length - 1) / 10));

  const points = await drawnPoints(page);
  expect(points['loss-chart'].loss).toBe(steps.length);
  expect(points['accuracy-chart'].prediction).toBe(record.evaluations.length);
  expect(points['accuracy-chart']['head m1 (gray)']).toBe(record.evaluations.length);
  expect(points['signal-chart'].d_speed).toBe(steps.length);
  expect(await page.locator('#train-samples').evaluate((c: HTMLCanvasElement) => c.width)).toBeGreaterThan(100);
  expect(await page.textContent('#progress')).toMatch(/steps\/s/);
}

describe('the built example page in headless Chromium', () => {
  let outDir: string;
  let server: PreviewServer;
  let url: string;
  let browser: Browser;
  const runs: Record<string, RunRecord> = {};

  beforeAll(async () => {
    outDir = mkdtempSync(join(tmpdir(), 'mm-page-'));
    await buildPage(outDir);
    ({ server, url } = await servePage(outDir));
    browser = await launchChromium();
    mkdirSync(SCREENSHOTS, { recursive: true });
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
    if (outDir) rmSync(outDir, { recursive: true, force: true });
  });

  it(`trains guided re-balancing on wasm: the loss falls, the charts render, pause and resume continue the run`, async () => {
    const page = await browser.newPage({ viewport: { width: 1240, height: 900 } });
    try {
      const record = await trainOnPage(page, url, { method: 'guided', scale: 'tiny', backend: 'wasm', steps: WASM_STEPS, timeoutMs: 600_000 });
      runs.wasm = record;
      await expectHealthyRun(page, record, 'wasm', WASM_STEPS);
      const losses = record.steps.map((s) => s.loss);
      expect(mean(losses.slice(-10))).toBeLessThan(mean(losses.slice(0, 10)));
      // Served cross-origin isolated (as vite preview does here), wasm runs on every core.
      expect(await page.evaluate(() => crossOriginIsolated)).toBe(true);
      expect(record.ready?.threads).toBe(Math.min(await page.evaluate(() => navigator.hardwareConcurrency), 8));

      // Paused, nothing moves; resumed, the same run goes on from the next step.
      await new Promise((resolve) => setTimeout(resolve, 1000));
      expect((await readRecord(page)).steps.length).toBe(record.steps.length);
      const resumed = await resumeOnPage(page, { steps: record.steps.length + 5, timeoutMs: 300_000 });
      await expectHealthyRun(page, resumed, 'wasm', record.steps.length + 5);
      expect(resumed.steps.slice(0, record.steps.length)).toEqual(record.steps);
      await page.screenshot({ path: join(SCREENSHOTS, 'page-wasm.png'), fullPage: true });
    } finally {
      await page.close();
    }
  });

  it(`trains vanilla on webgl: a few steps, the charts render`, async () => {
    const page = await browser.newPage({ viewport: { width: 1240, height: 900 } });
    try {
      const record = await trainOnPage(page, url, { method: 'vanilla', scale: 'tiny', backend: 'webgl', steps: WEBGL_STEPS, timeoutMs: 600_000 });
      runs.webgl = record;
      await page.screenshot({ path: join(SCREENSHOTS, 'page-webgl.png'), fullPage: true });
      await expectHealthyRun(page, record, 'webgl', WEBGL_STEPS);
    } finally {
      await page.close();
    }
  });

  // Guided trains as vanilla until its warm-up (one epoch) ends.
  it('gives the same first losses on webgl as on wasm (same seed, same data, same net)', () => {
    const first = (backend: string) => runs[backend].steps.slice(0, 5).map((s) => s.loss);
    expect(runs.wasm && runs.webgl, 'both training runs above must have passed').toBeTruthy();
    first('webgl').forEach((loss, i) => expect(Math.abs(loss - first('wasm')[i])).toBeLessThan(5e-3));
  });
});
