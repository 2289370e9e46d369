import * as tf from '@tensorflow/tfjs-core';
import { registerWasmTrainingKernels } from './kernels/register-wasm.js';
import { resolveWasmThreads, useThreadedWasm, wasmThreadsInUse } from './wasm-threads.js';
import { chooseBackend, describeError, forcedBackend, resolveLog, type BackendAttempt as Attempt } from './choose-backend.js';

/** Backends in order of preference: the first that loads wins. */
export const BACKEND_PREFERENCE = ['node-gpu', 'node', 'wasm', 'cpu'] as const;
export type BackendChoice = (typeof BACKEND_PREFERENCE)[number];

/** Environment variable that forces a backend (same values as `options.backend`). */
export const BACKEND_ENV_VAR = 'MM_BACKEND';

export interface InitBackendOptions {
  /** Force one backend instead of trying them in order. Overrides the environment variable. */
  backend?: BackendChoice;
  /** Where to report the choice; `false` silences it. Defaults to `console.error` (keeps stdout clean for JSON output). */
  log?: ((message: string) => void) | false;
  /** Environment to read `MM_BACKEND` and `MM_WASM_THREADS` from (defaults to `process.env`). */
  env?: Record<string, string | undefined>;
  /**
   * Threads of the wasm backend (XNNPACK convolutions and matrix products run on all of
   * them). Default: `MM_WASM_THREADS`, else one per core, at most 8. 1 keeps tfjs's stock
   * single-threaded build. If the threaded build cannot start, wasm runs single-threaded and
   * the log says why.
   */
  threads?: number;
}

export type BackendAttempt = Attempt<BackendChoice>;

interface Candidate {
  /** npm package that provides the backend. */
  packageName: string;
  /** Name under which the package registers itself with tfjs-core. */
  tfName: string;
}

const CANDIDATES: Record<BackendChoice, Candidate> = {
  'node-gpu': { packageName: '@tensorflow/tfjs-node-gpu', tfName: 'tensorflow' },
  node: { packageName: '@tensorflow/tfjs-node', tfName: 'tensorflow' },
  wasm: { packageName: '@tensorflow/tfjs-backend-wasm', tfName: 'wasm' },
  cpu: { packageName: '@tensorflow/tfjs-backend-cpu', tfName: 'cpu' },
};

// A variable specifier keeps bundlers and vite from resolving optional packages at build time.
const importOptional = (specifier: string): Promise<unknown> => import(/* @vite-ignore */ specifier);

let lastAttempts: BackendAttempt[] = [];

/** What the last `initBackend` call tried, in order, with the reason each rejected backend was skipped. */
export function backendAttempts(): readonly BackendAttempt[] {
  return lastAttempts;
}

async function tryBackend(choice: BackendChoice, wasmThreads: number, notes: string[]): Promise<string | undefined> {
  const { packageName, tfName } = CANDIDATES[choice];
  let loaded: unknown;
  try {
    loaded = await importOptional(packageName);
  } catch (error) {
    return `${packageName}: ${describeError(error)}`;
  }
  if (tf.findBackendFactory(tfName) === null && tf.findBackend(tfName) === null) {
    return `${packageName} loaded but registered no '${tfName}' backend with this copy of @tensorflow/tfjs-core (two tfjs copies installed? keep one version)`;
  }
  if (choice === 'wasm' && wasmThreads > 1) {
    const problem = await useThreadedWasm(wasmThreads, loaded as Parameters<typeof useThreadedWasm>[1]);
    if (problem !== undefined) notes.push(`single-threaded: ${problem}`);
  }
  try {
    const ok = await tf.setBackend(tfName);
    if (!ok) return `${packageName}: tf.setBackend('${tfName}') failed to initialize`;
    await tf.ready();
  } catch (error) {
    return `${packageName}: ${describeError(error)}`;
  }
  if (choice === 'wasm') {
    registerWasmTrainingKernels();
    notes.unshift(`${wasmThreadsInUse()} thread${wasmThreadsInUse() > 1 ? 's' : ''}`);
  }
  return undefined;
}

/**
 * Picks the fastest tfjs backend that actually loads: tfjs-node-gpu, tfjs-node, wasm, cpu.
 * `options.backend` or the `MM_BACKEND` environment variable forces one (and fails loudly
 * if it cannot load). On wasm it runs tfjs's threaded build on every core (`options.threads`,
 * `MM_WASM_THREADS`) and registers the kernels that training needs and tfjs lacks.
 * Returns the chosen backend's name.
 */
export async function initBackend(options: InitBackendOptions = {}): Promise<BackendChoice> {
  const env = options.env ?? process.env;
  const log = resolveLog(options.log, (m) => console.error(m));
  const forced = forcedBackend(BACKEND_PREFERENCE, options.backend, { name: BACKEND_ENV_VAR, value: env[BACKEND_ENV_VAR] });
  const order: readonly BackendChoice[] = forced ? [forced] : BACKEND_PREFERENCE;
  const wasmThreads = order.includes('wasm') ? resolveWasmThreads(options.threads, env) : 1;
  lastAttempts = [];
  return chooseBackend(
    {
      order,
      how: forced ? (options.backend ? 'forced by option' : `forced by ${BACKEND_ENV_VAR}`) : 'best available',
      attempt: (choice, notes) => tryBackend(choice, wasmThreads, notes),
      log,
      failure: (attempts) => {
        const tried = attempts.map((a) => `  - ${a.backend}: ${a.reason}`).join('\n');
        return new Error(
          forced
            ? `Backend '${forced}' could not be loaded:\n${tried}\nInstall ${CANDIDATES[forced].packageName} (same version as @tensorflow/tfjs-core) or choose another backend.`
            : `No tfjs backend could be loaded:\n${tried}\nInstall @tensorflow/tfjs-backend-wasm (recommended on CPU) or @tensorflow/tfjs-backend-cpu.`,
        );
      },
    },
    lastAttempts,
  );
}
