import type { RunResults } from './train.js';

const pct = (x: number | undefined | null) => (x === undefined || x === null ? '—' : `${(x * 100).toFixed(2)}%`);
const num = (x: number | null | undefined, digits = 4) => (x === undefined || x === null || !Number.isFinite(x) ? '—' : x.toFixed(digits));

/** A human-readable summary of a run (report.md next to results.json). */
export function renderReport(r: RunResults): string {
  const s = r.settings;
  const lines = [
    `# NVGesture — ${s.method}${s.method === 'unimodal' ? ` (${s.modality})` : ''}`,
    '',
    `${r.model.name}, ${r.model.parameters.toLocaleString('en-US')} parameters, backend ${r.backend}; clips ${s.frames}×${s.size}×${s.size}; ` +
      `SGD lr ${s.learningRate} momentum ${s.momentum}, batch ${s.batchSize}${s.method === 'guided' ? `, α ${s.alpha}, Q ${s.windowSize}` : ''}` +
      `${s.pretrained ? `, pretrained from ${s.pretrained}` : ', from scratch'}.`,
    `Data ${r.dataset.root}: ${r.dataset.train} train / ${r.dataset.validation} validation / ${r.dataset.test} test samples` +
      `${r.dataset.skippedSamples.length ? `, ${r.dataset.skippedSamples.length} skipped` : ''}${r.dataset.malformedListLines ? `, ${r.dataset.malformedListLines} malformed list lines` : ''}.`,
    '',
    '| epoch | train loss | validation (mean) | validation per head | re-balancing steps | d_speed | clips/s | s |',
    '|---|---|---|---|---|---|---|---|',
    ...r.epochs.map(
      (e) =>
        `| ${e.epoch} | ${num(e.trainLoss)} | ${pct(e.validation.fused)} | ${e.validation.heads.map(pct).join(' / ')} | ${e.rebalanceSteps.join(' / ')} | ${num(e.dSpeed)} | ${num(e.clipsPerSecond, 2)} | ${num(e.seconds, 1)} |`,
    ),
    '',
  ];
  if (r.best) lines.push(`Best validation accuracy ${pct(r.best.validationAccuracy)} at epoch ${r.best.epoch}.`, '');
  if (r.test) {
    lines.push(`**Test** (best-validation weights, ${r.test.samples} samples): ${pct(r.test.fused)} (heads ${r.test.heads.map(pct).join(' / ')}).`);
    const u = r.test.utilization;
    if (u) lines.push(`Conditional utilization rates ${u.utilization.map((x) => num(x)).join(' / ')}, d_util ${num(u.dUtil)} (cut-flow head accuracies ${u.cutHeadAccuracy.map(pct).join(' / ')}).`);
    else if (r.test.utilizationProblem) lines.push(`Conditional utilization rate not computed: ${r.test.utilizationProblem}.`);
  } else {
    lines.push(r.completed ? '' : '_Run not finished (resume with --resume)._');
  }
  return `${lines.join('\n')}\n`;
}
