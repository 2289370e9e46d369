// The page's training thread: training here keeps the page responsive, and lets the wasm
// backend and @mm/backend's kernel pool block on their threads (a page's main thread may not).
import { initBackend, wasmThreadsInUse } from '@mm/backend/browser';
import { TrainingSession } from './session.js';
import { WASM_PATHS } from './wasm-paths.js';
import type { FromWorker, RunSettings, ToWorker } from './protocol.js';

const post = (message: FromWorker) => postMessage(message);

// Each backend package is its own chunk, fetched only when initBackend tries it.
const LOADERS = {
  webgpu: () => import('@tensorflow/tfjs-backend-webgpu'),
  webgl: () => import('@tensorflow/tfjs-backend-webgl'),
  wasm: () => import('@tensorflow/tfjs-backend-wasm'),
  cpu: () => import('@tensorflow/tfjs-backend-cpu'),
};

let session: TrainingSession | undefined;
let run: ReturnType<TrainingSession['run']> | undefined;
let paused = false;
let wake: (() => void) | undefined;
/** The current run; a new start makes older loops stop at their next step. */
let generation = 0;

/** Lets queued messages (pause, a new start) in between two steps. */
const nextTurn = () => new Promise<void>((resolve) => setTimeout(resolve, 0));

async function start(settings: RunSettings, mnistUrl: string): Promise<void> {
  const mine = ++generation;
  // A paused older loop wakes up, sees it is no longer current and ends.
  wake?.();
  await run?.return(undefined);
  session?.dispose();
  session = undefined;
  paused = false;
  const log: string[] = [];
  const backend = await initBackend({
    backend: settings.backend === 'auto' ? undefined : settings.backend,
    loaders: LOADERS,
    wasmPaths: WASM_PATHS,
    log: (line) => log.push(line),
  });
  session = await TrainingSession.create(settings, mnistUrl);
  post({ type: 'ready', backend, log, threads: backend === 'wasm' ? wasmThreadsInUse() : 1, stepsPerEpoch: session.stepsPerEpoch, parameters: session.parameters, samples: session.sampleGrids() });
  run = session.run();
  let last = 0;
  for await (const event of run) {
    if (mine !== generation) return;
    post(event);
    if (event.type === 'step') last = event.step;
    await nextTurn();
    while (paused && mine === generation) {
      post({ type: 'paused', step: last });
      await new Promise<void>((resolve) => (wake = resolve));
    }
  }
  if (mine === generation) post({ type: 'finished', step: last });
}

onmessage = (event: MessageEvent<ToWorker>) => {
  const message = event.data;
  if (message.type === 'start') {
    start(message.settings, message.mnistUrl).catch((error: unknown) => {
      post({ type: 'error', message: error instanceof Error ? error.message : String(error) });
    });
  } else if (message.type === 'pause') {
    paused = true;
  } else if (message.type === 'resume') {
    paused = false;
    wake?.();
  }
};
