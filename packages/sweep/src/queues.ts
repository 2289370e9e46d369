import { Queue, type ConnectionOptions } from 'bullmq';
import { checkName } from './run-id.js';

/** Where the sweep's queues are. */
export interface QueueOptions {
  /** Redis URL, e.g. redis://host:6379 or redis://:password@host:6379/0. */
  redis: string;
  /**
   * Name of the queues in Redis (default 'mm-sweep'): `<name>-runs` holds one job per run,
   * `<name>-sweeps` one collecting job per sweep. Submitters and workers must use the same.
   */
  queue?: string;
}

export const DEFAULT_QUEUE = 'mm-sweep';

export interface QueueNames {
  runs: string;
  sweeps: string;
}

export function queueNames(queue = DEFAULT_QUEUE): QueueNames {
  checkName(queue, 'queue');
  return { runs: `${queue}-runs`, sweeps: `${queue}-sweeps` };
}

/** A redis:// or rediss:// URL, checked so that a typo fails here rather than as a connection retry loop. */
export function connection(url: string): ConnectionOptions {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new Error(`--redis '${url}' is not a URL; give it as redis://host:port (e.g. redis://127.0.0.1:6379)`);
  }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') {
    throw new Error(`--redis '${url}' must start with redis:// or rediss://`);
  }
  // Workers block on Redis: BullMQ needs requests to wait for a reconnect instead of failing.
  return { url, maxRetriesPerRequest: null };
}

/** Both queues of a sweep namespace, for submitting and reading; close() when done. */
export function openQueues(o: QueueOptions): { runs: Queue; sweeps: Queue; names: QueueNames; close: () => Promise<void> } {
  const names = queueNames(o.queue);
  const runs = new Queue(names.runs, { connection: connection(o.redis) });
  const sweeps = new Queue(names.sweeps, { connection: connection(o.redis) });
  return { runs, sweeps, names, close: async () => void (await Promise.all([runs.close(), sweeps.close()])) };
}
