// Drives the built page in headless Chromium: serves dist/ as `vite preview` does (with the
// cross-origin isolation headers), starts a run through the page's own controls and reads what
// the page recorded. Used by the page test and by scripts/measure.ts.
import { chromium, type Browser, type Page } from 'playwright';
import { build, preview, type PreviewServer } from 'vite';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from '../../../../scripts/browser-env.mjs';
import type { EvaluationEvent, ReadyEvent, RunSettings, StepEvent } from '../protocol.js';
import { EXAMPLE_DIR } from './example-dir.js';
import { writePageMnist } from '../../scripts/mnist-subset.js';

/** What `window.mmRun` holds (see main.ts). */
export interface RunRecord {
  settings: RunSettings;
  ready: Omit<ReadyEvent, 'samples'> | null;
  steps: StepEvent[];
  evaluations: EvaluationEvent[];
  state: string;
  error?: string;
}

/** Builds the page into `outDir`, with the MNIST subset it ships. */
export async function buildPage(outDir: string): Promise<void> {
  writePageMnist();
  await build({ root: EXAMPLE_DIR, logLevel: 'warn', build: { outDir, emptyOutDir: true } });
}

/** Serves a built page as `vite preview` does; returns its URL. */
export async function servePage(outDir: string): Promise<{ url: string; server: PreviewServer }> {
  const server = await preview({ root: EXAMPLE_DIR, logLevel: 'warn', build: { outDir }, preview: { port: 0, host: '127.0.0.1', strictPort: false } });
  const url = server.resolvedUrls?.local[0];
  if (url === undefined) throw new Error('vite preview did not report a URL');
  return { url, server };
}

export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS, headless: true });
}

export interface TrainOptions {
  method: RunSettings['method'];
  scale: RunSettings['scale'];
  backend: RunSettings['backend'];
  /** Pause once this many steps are done. */
  steps: number;
  /** Give up after this long (SwiftShader is slow). */
  timeoutMs: number;
}

/** Starts a run through the page's controls, waits for `steps` steps, pauses it and returns the page's record. */
export async function trainOnPage(page: Page, url: string, options: TrainOptions): Promise<RunRecord> {
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  await page.goto(url);
  await page.selectOption('#method', options.method);
  await page.selectOption('#scale', options.scale);
  await page.selectOption('#backend', options.backend);
  await page.click('#train');
  const record = await pauseAtStep(page, options.steps, options.timeoutMs);
  if (errors.length > 0) record.error = [record.error, ...errors].filter(Boolean).join('\n');
  return record;
}

/** Presses Resume on a paused page, waits until the run reaches step `steps`, pauses it again and returns the page's record. */
export async function resumeOnPage(page: Page, options: { steps: number; timeoutMs: number }): Promise<RunRecord> {
  if ((await page.getAttribute('body', 'data-state')) !== 'paused') throw new Error('resumeOnPage: the page is not paused');
  await page.click('#pause');
  return pauseAtStep(page, options.steps, options.timeoutMs);
}

/** What the page has recorded of the current run (`window.mmRun`). */
export async function readRecord(page: Page): Promise<RunRecord> {
  return (await page.evaluate(() => (window as unknown as { mmRun: unknown }).mmRun)) as RunRecord;
}

async function pauseAtStep(page: Page, steps: number, timeoutMs: number): Promise<RunRecord> {
  await page.waitForFunction(
    (target) => {
      const state = document.body.dataset.state;
      return state === 'error' || state === 'finished' || Number(document.body.dataset.step ?? 0) >= target;
    },
    steps,
    { timeout: timeoutMs, polling: 500 },
  );
  // Checked and clicked in one go inside the page: the run may end or fail in between.
  const pausing = await page.evaluate(() => {
    if (document.body.dataset.state !== 'training') return false;
    document.getElementById('pause')!.click();
    return true;
  });
  if (pausing) await page.waitForFunction(() => document.body.dataset.state !== 'training', undefined, { timeout: 120_000 });
  return readRecord(page);
}

/** Mean steps per second over the steps after the first `skip` (shader compilation, warm-up), evaluations excluded. */
export function meanStepsPerSecond(record: RunRecord, skip = 5): number {
  const rates = record.steps.slice(skip).map((s) => s.stepsPerSecond).filter(Number.isFinite);
  return rates.length === 0 ? Number.NaN : rates.reduce((a, b) => a + b, 0) / rates.length;
}
