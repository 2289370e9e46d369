// The page: settings, the training worker, live charts. Training runs in the worker, so this
// thread only draws (at most once per frame).
import { LineChart, type Band, type Series } from './charts.js';
import {
  BACKEND_REQUESTS,
  DEFAULT_SETTINGS,
  METHOD_NAMES,
  METHODS,
  SCALE_NAMES,
  SCALES,
  type EvaluationEvent,
  type FromWorker,
  type ReadyEvent,
  type RunSettings,
  type SampleGrid,
  type StepEvent,
  type ToWorker,
} from './protocol.js';

type PageState = 'idle' | 'loading' | 'training' | 'paused' | 'finished' | 'error';

/** What the page has seen of the current run; `window.mmRun` exposes it to tests and the console. */
interface RunRecord {
  settings: RunSettings;
  ready: Omit<ReadyEvent, 'samples'> | null;
  steps: StepEvent[];
  evaluations: EvaluationEvent[];
  state: PageState;
  error?: string;
}

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const COLORS = { loss: '#1d4ed8', prediction: '#111827', m0: '#dc2626', m1: '#6b7280', alpha: '#9ca3af' };
const PALETTE = ['#7c3aed', '#059669', '#d97706', '#db2777'];

function fillSelect(select: HTMLSelectElement, options: readonly { value: string; label: string }[], selected: string): void {
  select.replaceChildren(...options.map(({ value, label }) => new Option(label, value, value === selected, value === selected)));
}

fillSelect($('method'), METHOD_NAMES.map((m) => ({ value: m, label: METHODS[m].label })), DEFAULT_SETTINGS.method);
fillSelect($('scale'), SCALE_NAMES.map((s) => ({ value: s, label: SCALES[s].label })), DEFAULT_SETTINGS.scale);
fillSelect($('backend'), BACKEND_REQUESTS.map((b) => ({ value: b, label: b === 'auto' ? 'auto (webgpu → webgl → wasm → cpu)' : b })), DEFAULT_SETTINGS.backend);

const charts = {
  loss: new LineChart($('loss-chart'), { title: 'training loss per step' }),
  accuracy: new LineChart($('accuracy-chart'), { title: 'test accuracy (color independent of the label)', yRange: [0, 1] }),
  signal: new LineChart($('signal-chart'), { title: "the method's signal" }),
};

let worker: Worker | undefined;
let record: RunRecord | undefined;
let drawPending = false;

Object.defineProperty(window, 'mmRun', { get: () => record, configurable: true });

function setState(state: PageState): void {
  if (record) record.state = state;
  document.body.dataset.state = state;
  $('pause').toggleAttribute('disabled', state !== 'training' && state !== 'paused');
  $('pause').textContent = state === 'paused' ? 'Resume' : 'Pause';
}

function readSettings(): RunSettings {
  const seed = Number(($('seed') as HTMLInputElement).value);
  return {
    ...DEFAULT_SETTINGS,
    method: ($('method') as HTMLSelectElement).value as RunSettings['method'],
    scale: ($('scale') as HTMLSelectElement).value as RunSettings['scale'],
    backend: ($('backend') as HTMLSelectElement).value as RunSettings['backend'],
    seed: Number.isInteger(seed) && seed >= 0 ? seed : DEFAULT_SETTINGS.seed,
  };
}

function showSamples(canvas: HTMLCanvasElement, grid: SampleGrid): void {
  canvas.width = grid.width;
  canvas.height = grid.height;
  const image = new ImageData(grid.width, grid.height);
  for (let p = 0; p < grid.width * grid.height; p++) {
    image.data.set(grid.pixels.subarray(3 * p, 3 * p + 3), 4 * p);
    image.data[4 * p + 3] = 255;
  }
  canvas.getContext('2d')!.putImageData(image, 0, 0);
}

/** Windows of consecutive re-balancing steps, colored by the modality accelerated. */
function rebalancingBands(steps: readonly StepEvent[]): Band[] {
  const bands: Band[] = [];
  for (const s of steps) {
    const modality = s.metrics.rebalance;
    if (modality === null || modality === undefined) continue;
    const color = modality === 0 ? COLORS.m0 : COLORS.m1;
    const last = bands.at(-1);
    if (last && last.to === s.step - 1 && last.color === color) last.to = s.step;
    else bands.push({ from: s.step - 1, to: s.step, color });
  }
  return bands;
}

function draw(): void {
  drawPending = false;
  if (!record) return;
  const { steps, evaluations, settings } = record;
  const xMax = steps.at(-1)?.step ?? 0;
  charts.loss.draw([{ name: 'loss', color: COLORS.loss, points: steps.map((s) => [s.step, s.loss]) }], [], xMax);
  const accuracy: Series[] = [
    { name: 'prediction', color: COLORS.prediction, points: evaluations.map((e) => [e.step, e.accuracy]) },
    { name: 'head m0 (colored)', color: COLORS.m0, points: evaluations.filter((e) => e.heads).map((e) => [e.step, e.heads![0]]) },
    { name: 'head m1 (gray)', color: COLORS.m1, points: evaluations.filter((e) => e.heads).map((e) => [e.step, e.heads![1]]) },
  ];
  charts.accuracy.draw(accuracy, [], xMax);
  const keys = [...new Set(steps.flatMap((s) => Object.keys(s.metrics)))].filter((k) => k !== 'rebalance');
  const signal: Series[] = keys.map((key, i) => ({
    name: key === 'dSpeed' ? 'd_speed' : key,
    color: key === 'dSpeed' ? '#111827' : PALETTE[i % PALETTE.length],
    points: steps.map((s) => [s.step, s.metrics[key] ?? Number.NaN]),
  }));
  if (keys.includes('dSpeed') && settings.method === 'guided') {
    for (const sign of [1, -1]) signal.push({ name: sign > 0 ? '±α' : '', color: COLORS.alpha, dashed: true, points: [[0, sign * settings.alpha], [Math.max(1, xMax), sign * settings.alpha]] });
  }
  charts.signal.draw(signal, rebalancingBands(steps), xMax);
  const last = steps.at(-1);
  const evaluation = evaluations.at(-1);
  const percent = (v: number) => `${(100 * v).toFixed(1)} %`;
  $('progress').textContent = last
    ? [
        `step ${last.step} (epoch ${last.epoch + 1})`,
        `${Number.isFinite(last.stepsPerSecond) ? last.stepsPerSecond.toFixed(2) : '…'} steps/s`,
        `loss ${last.loss.toFixed(3)}`,
        evaluation ? `test ${percent(evaluation.accuracy)}${evaluation.heads ? ` (m0 ${percent(evaluation.heads[0])}, m1 ${percent(evaluation.heads[1])})` : ''}` : '',
        record.state === 'paused' ? 'paused' : record.state === 'finished' ? 'finished' : '',
      ].filter(Boolean).join(' · ')
    : record.state === 'loading' ? 'loading data and backend…' : '';
  document.body.dataset.step = String(last?.step ?? 0);
}

const scheduleDraw = () => {
  if (drawPending) return;
  drawPending = true;
  requestAnimationFrame(draw);
};

function onMessage(message: FromWorker): void {
  if (!record) return;
  switch (message.type) {
    case 'ready': {
      const { samples, ...ready } = message;
      record.ready = ready;
      const threads = message.backend === 'wasm' ? `, ${message.threads} thread${message.threads > 1 ? 's' : ''}` : '';
      $('backend-line').textContent = `backend ${message.backend}${threads} · ${message.parameters.toLocaleString('en')} parameters · ${message.stepsPerEpoch} steps per epoch — ${message.log.join(' ')}`;
      showSamples($('train-samples'), samples.train);
      showSamples($('test-samples'), samples.test);
      $('samples').hidden = false;
      setState('training');
      break;
    }
    case 'step':
      record.steps.push(message);
      break;
    case 'evaluation':
      record.evaluations.push(message);
      break;
    case 'paused':
      setState('paused');
      break;
    case 'finished':
      setState('finished');
      break;
    case 'error':
      record.error = message.message;
      setState('error');
      // A backend can fail mid-run (SwiftShader's WebGPU adapter does after a few steps): say which, and what to try.
      $('progress').textContent = record.ready
        ? `error on ${record.ready.backend} after ${record.steps.length} steps: ${message.message} (choose another backend and press Train)`
        : `error: ${message.message}`;
      return;
  }
  scheduleDraw();
}

$('controls').addEventListener('submit', (event) => {
  event.preventDefault();
  worker ??= new Worker(new URL('./training.worker.ts', import.meta.url), { type: 'module', name: 'training' });
  worker.onmessage = (e: MessageEvent<FromWorker>) => onMessage(e.data);
  worker.onerror = (e) => {
    if (record) record.error = e.message;
    setState('error');
    $('progress').textContent = `the training worker failed: ${e.message}`;
  };
  const settings = readSettings();
  record = { settings, ready: null, steps: [], evaluations: [], state: 'loading' };
  setState('loading');
  $('backend-line').textContent = `starting ${METHODS[settings.method].label} on ${settings.backend === 'auto' ? 'the best backend' : settings.backend}…`;
  draw();
  const mnistUrl = new URL('mnist/', document.baseURI).href;
  worker.postMessage({ type: 'start', settings, mnistUrl } satisfies ToWorker);
});

$('pause').addEventListener('click', () => {
  if (!worker || !record) return;
  if (record.state === 'paused') {
    worker.postMessage({ type: 'resume' } satisfies ToWorker);
    setState('training');
  } else {
    worker.postMessage({ type: 'pause' } satisfies ToWorker);
  }
});
