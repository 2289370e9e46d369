import { Queue, type ConnectionOptions } from 'bullmq';
import { Redis } from 'ioredis';
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

/** The URL as it may be printed: without its password. */
export function redactedUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return url;
  }
}

/**
 * Fails with a message saying what to check when Redis does not answer a PING within
 * `timeoutSeconds`. BullMQ's clients retry for ever, as a worker's must; without this check a
 * command pointed at a wrong host or a stopped server would hang, printing stack traces.
 */
export async function checkRedisReachable(url: string, timeoutSeconds = 10): Promise<void> {
  connection(url);
  const client = new Redis(url, { lazyConnect: true, connectTimeout: timeoutSeconds * 1000, commandTimeout: timeoutSeconds * 1000, maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false });
  // The socket's error (e.g. ECONNREFUSED) says more than the rejection that follows it ("Connection is closed.").
  let socketError: Error | undefined;
  client.on('error', (error: Error) => (socketError ??= error));
  try {
    await client.connect();
    await client.ping();
  } catch (error) {
    const reason = (socketError ?? (error as Error)).message || String(error);
    throw new Error(
      `cannot reach Redis at ${redactedUrl(url)} (${reason}). Check that redis-server runs there, that this machine reaches that host and port (firewall; the server's --bind and --protected-mode), and the password in the URL if it needs one.`,
    );
  } finally {
    client.disconnect();
  }
}

/** How long an error message that repeats is kept out of the log. */
const REPEAT_QUIET_MS = 60_000;

/**
 * Errors of BullMQ clients as lines for `log`, a message that repeats at most once a minute:
 * while Redis is away ioredis reconnects (and fails) about every second. Without a listener
 * BullMQ prints each failure as a stack trace.
 */
export function reportConnectionErrors(clients: readonly { on(event: 'error', listener: (error: Error) => void): unknown }[], log: (line: string) => void): void {
  const loggedAt = new Map<string, number>();
  for (const client of clients) {
    client.on('error', (error) => {
      const now = Date.now();
      if (now - (loggedAt.get(error.message) ?? -Infinity) < REPEAT_QUIET_MS) return;
      loggedAt.set(error.message, now);
      log(error.message);
    });
  }
}

/** Where a one-off command's connection errors go: stderr, saying that the command waits. */
export const stderrConnectionLog =
  (url: string) =>
  (message: string): void =>
    console.error(`Redis at ${redactedUrl(url)}: ${message} (waiting for it to answer again)`);

/**
 * Both queues of a sweep namespace, for submitting and reading, once Redis has answered; close()
 * when done. If Redis goes away afterwards, requests wait for it to come back.
 */
export async function openQueues(o: QueueOptions): Promise<{ runs: Queue; sweeps: Queue; names: QueueNames; close: () => Promise<void> }> {
  const names = queueNames(o.queue);
  await checkRedisReachable(o.redis);
  const runs = new Queue(names.runs, { connection: connection(o.redis) });
  const sweeps = new Queue(names.sweeps, { connection: connection(o.redis) });
  reportConnectionErrors([runs, sweeps], stderrConnectionLog(o.redis));
  return { runs, sweeps, names, close: async () => void (await Promise.all([runs.close(), sweeps.close()])) };
}
