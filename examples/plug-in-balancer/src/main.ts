import { initBackend } from '@mm/backend';
import { runDemo } from './audio-video.js';
import { runLateFusion } from './late-fusion.js';

await initBackend();
const steps = Number(process.env.STEPS ?? 80);

console.log('1. Your MMTM model, balanced with the paper’s guided re-balancing (Greedy):');
const { losses, kinds, dSpeed, utilization } = await runDemo(steps, console.log);
console.log(`loss ${losses[0].toFixed(3)} -> ${losses[losses.length - 1].toFixed(3)}; re-balancing steps: ${kinds.filter((k) => k !== 'R').length}/${kinds.length}; final d_speed ${dSpeed?.toFixed(3)}`);
console.log(`head accuracies ${utilization.headAccuracy.map((a) => a.toFixed(3)).join(', ')}; cut-flow ${utilization.cutHeadAccuracy.map((a) => a.toFixed(3)).join(', ')}; d_util ${utilization.dUtil.toFixed(3)}`);

console.log('\n2. Your late-fusion (concatenate) model, balanced with OGM-GE:');
const late = await runLateFusion(steps);
const k0 = late.metrics.map((m) => m.k0 as number);
console.log(`loss ${late.losses[0].toFixed(3)} -> ${late.losses[late.losses.length - 1].toFixed(3)}; mean k0 ${(k0.reduce((a, b) => a + b, 0) / k0.length).toFixed(3)}; accuracy ${late.accuracy.toFixed(3)}; per modality ${late.modalityAccuracy?.map((a) => a.toFixed(3)).join(', ')}`);
