import { initBackend } from '@mm/backend';
import { runDemo } from './audio-video.js';

await initBackend();
const { losses, kinds, dSpeed, utilization } = await runDemo(Number(process.env.STEPS ?? 80), console.log);
console.log(`loss ${losses[0].toFixed(3)} -> ${losses[losses.length - 1].toFixed(3)}; re-balancing steps: ${kinds.filter((k) => k !== 'R').length}/${kinds.length}; final d_speed ${dSpeed?.toFixed(3)}`);
console.log(`head accuracies ${utilization.headAccuracy.map((a) => a.toFixed(3)).join(', ')}; cut-flow ${utilization.cutHeadAccuracy.map((a) => a.toFixed(3)).join(', ')}; d_util ${utilization.dUtil.toFixed(3)}`);
