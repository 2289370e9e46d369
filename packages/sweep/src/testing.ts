import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { createServer } from 'node:net';

export interface RedisServer {
  url: string;
  port: number;
  /** Stops the server and waits for it to exit. */
  stop(): Promise<void>;
}

export interface RedisServerOptions {
  /** The redis-server binary (default: `redis-server` on the PATH). */
  binary?: string;
  /** Seconds to wait for it to accept connections (default 20). */
  timeoutSeconds?: number;
}

/** A TCP port that was free a moment ago (the OS picks it). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

function exited(child: ChildProcess): Promise<void> {
  return child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise((resolve) => child.once('exit', () => resolve()));
}

/**
 * A throw-away Redis for tests and single-machine trials: `redis-server` on a free loopback
 * port, without persistence (`--save '' --appendonly no`) and with the eviction policy BullMQ
 * requires (`noeviction`). Resolves once it accepts connections.
 */
export async function startRedisServer(o: RedisServerOptions = {}): Promise<RedisServer> {
  const binary = o.binary ?? 'redis-server';
  const port = await freePort();
  const child = spawn(binary, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--maxmemory-policy', 'noeviction'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const ready = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`redis-server did not start within ${o.timeoutSeconds ?? 20} s on port ${port}:\n${output}`)), (o.timeoutSeconds ?? 20) * 1000);
    const settle = (error?: Error) => {
      clearTimeout(timer);
      if (error) reject(error);
      else resolve();
    };
    child.once('error', (error: NodeJS.ErrnoException) =>
      settle(error.code === 'ENOENT' ? new Error(`${binary} not found: install Redis (Debian/Ubuntu: apt-get install redis-server; macOS: brew install redis) or pass its path as binary`) : error),
    );
    child.once('exit', (code, signal) => settle(new Error(`redis-server exited (${signal ?? `code ${code}`}) before accepting connections:\n${output}`)));
    child.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('Ready to accept connections')) settle();
    });
    child.stderr!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
  });
  try {
    await ready;
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  }
  child.removeAllListeners('exit');
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    stop: async () => {
      child.kill('SIGTERM');
      await exited(child);
    },
  };
}

/** A child process started by {@link startProcess}. */
export interface StartedProcess {
  pid: number;
  /** Everything it printed so far (stdout and stderr). */
  output(): string;
  /** Resolves with the first line matching `pattern` it prints (or has printed); rejects if it exits first or after `timeoutSeconds`. */
  waitFor(pattern: RegExp, timeoutSeconds?: number): Promise<string>;
  /** Sends a signal (default SIGTERM) and waits for the process to exit. */
  stop(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Resolves when it exits. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * Starts a process (e.g. a worker) with its output captured, for tests that need several real
 * processes: wait for what it prints, kill it like a crash (SIGKILL) or stop it.
 */
export function startProcess(command: string, args: readonly string[], options: Pick<SpawnOptions, 'cwd' | 'env'> = {}): StartedProcess {
  const child = spawn(command, [...args], { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
  let text = '';
  const waiters = new Set<() => void>();
  const append = (chunk: Buffer) => {
    text += chunk.toString();
    for (const wake of waiters) wake();
  };
  child.stdout!.on('data', append);
  child.stderr!.on('data', append);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => {
    resolve({ code, signal });
    for (const wake of waiters) wake();
  }));
  return {
    pid: child.pid!,
    output: () => text,
    exited,
    waitFor: (pattern, timeoutSeconds = 120) =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => done(new Error(`no line matching ${pattern} within ${timeoutSeconds} s from ${command} ${args.join(' ')}; it printed:\n${text}`)), timeoutSeconds * 1000);
        const check = () => {
          const line = text.split('\n').find((l) => pattern.test(l));
          if (line !== undefined) done(undefined, line);
          else if (child.exitCode !== null || child.signalCode !== null) done(new Error(`${command} ${args.join(' ')} exited (${child.signalCode ?? `code ${child.exitCode}`}) before printing ${pattern}:\n${text}`));
        };
        function done(error?: Error, line?: string) {
          clearTimeout(timer);
          waiters.delete(check);
          if (error) reject(error);
          else resolve(line!);
        }
        waiters.add(check);
        check();
      }),
    stop: async (signal = 'SIGTERM') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}
