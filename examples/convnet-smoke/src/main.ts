import { initBackend } from '@mm/backend';
import { trainSmoke } from './train.js';

const steps = Number(process.env.STEPS ?? 40);
const backend = await initBackend();
console.log(`backend: ${backend}`);
const started = Date.now();
const { losses } = trainSmoke(steps, (step, loss) => {
  if (step % 5 === 0 || step === steps - 1) console.log(`step ${String(step + 1).padStart(3)}/${steps}  loss ${loss.toFixed(4)}`);
});
const head = losses.slice(0, 5).reduce((a, b) => a + b, 0) / Math.min(5, losses.length);
const tail = losses.slice(-5).reduce((a, b) => a + b, 0) / Math.min(5, losses.length);
console.log(`mean loss of first 5 steps ${head.toFixed(4)} -> last 5 steps ${tail.toFixed(4)} (${((Date.now() - started) / 1000).toFixed(1)} s on ${backend})`);
if (!(tail < head)) {
  console.error('loss did not fall: something is wrong with this backend');
  process.exitCode = 1;
}
