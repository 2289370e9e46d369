/** How a worker tells its training processes what they need (they are forked, not called). */
export const REGISTRY_ENV = 'MM_SWEEP_REGISTRY';
export const RUNS_DIR_ENV = 'MM_SWEEP_RUNS';

/** Progress goes to Redis at most this often per run. */
export const PROGRESS_INTERVAL_MS = 2000;
