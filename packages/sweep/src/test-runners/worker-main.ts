/**
 * A worker process for the tests, with the test runners registered:
 * `node --import tsx worker-main.ts REDIS_URL RUNS_DIR NAME LOCK_SECONDS`. Stops (after its
 * current runs) on SIGTERM.
 */
import { fileURLToPath } from 'node:url';
import { startWorker } from '../worker.js';

const [redis, runsDir, name, lockSeconds] = process.argv.slice(2);
const worker = await startWorker({
  redis,
  runsDir,
  name,
  lockSeconds: Number(lockSeconds),
  registry: { counter: fileURLToPath(new URL('./counter.ts', import.meta.url)) },
  log: (line) => console.log(line),
});
process.once('SIGTERM', () => void worker.close().then(() => process.exit(0)));
