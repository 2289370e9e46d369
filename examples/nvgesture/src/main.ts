import { initBackend } from '@mm/backend';
import { parseArgs, USAGE, UsageError } from './settings.js';
import { runNvGesture } from './train.js';

let settings;
try {
  settings = parseArgs(process.argv.slice(2));
} catch (error) {
  if (!(error instanceof UsageError)) throw error;
  if (error.message) console.error(`error: ${error.message}\n`);
  console.error(USAGE);
  process.exit(2);
}
const backend = await initBackend();
try {
  const results = await runNvGesture(settings, backend);
  console.log(JSON.stringify({ out: settings.out, best: results.best, test: results.test && { fused: results.test.fused, heads: results.test.heads, dUtil: results.test.utilization?.dUtil ?? null, utilizationProblem: results.test.utilizationProblem } }));
} catch (error) {
  console.error(`error: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
}
