import { barChart, histogram, linePlot, type Band, type Series } from '@mm/example-kit';
import type { MethodSummary } from './table.js';
import type { RunResult, RunSummary } from './train-one.js';

const COLORS: Record<string, string> = {
  'unimodal-colored': '#d9a400',
  'unimodal-gray': '#555555',
  vanilla: '#d62728',
  rubi: '#9467bd',
  random: '#2ca02c',
  guided: '#1f77b4',
};
const color = (method: string) => COLORS[method] ?? '#17becf';

/** Re-balancing windows as shaded bands: blue for m0 (colored) accelerated, orange for m1 (gray). */
function rebalanceBands(run: RunResult): Band[] {
  const bands: Band[] = [];
  let current: Band | undefined;
  for (const s of run.steps) {
    const rebalanced = s.metrics.rebalance;
    const c = rebalanced === 0 ? '#6baed6' : rebalanced === 1 ? '#fdae6b' : undefined;
    if (c && current && current.color === c && current.x1 === s.step) current.x1 = s.step + 1;
    else if (c) {
      current = { x0: s.step, x1: s.step + 1, color: c };
      bands.push(current);
    } else current = undefined;
  }
  return bands;
}

export function dSpeedPlot(run: RunResult, alpha: number): string {
  const points = run.steps.filter((s) => s.metrics.dSpeed != null).map((s) => [s.step, s.metrics.dSpeed as number] as [number, number]);
  return linePlot({
    title: `d_speed over training steps — ${run.method}, seed ${run.seed}`,
    xLabel: 'training step',
    yLabel: 'd_speed = s(m1|m0) − s(m0|m1)',
    series: [{ name: 'd_speed', points, color: '#222' }],
    bands: rebalanceBands(run),
    bandLegend: [
      { name: 're-balance m0 (colored)', color: '#6baed6' },
      { name: 're-balance m1 (gray)', color: '#fdae6b' },
    ],
    hLines: [
      { y: alpha, color: '#b00', label: `+α = ${alpha}` },
      { y: -alpha, color: '#b00', label: `−α` },
    ],
  });
}

export function accuracyPlot(runs: RunSummary[]): string {
  const series: Series[] = [];
  for (const run of runs) {
    const c = color(run.method);
    series.push({ name: `${run.method} (mean)`, color: c, markers: true, points: run.epochs.map((e) => [e.epoch + 1, 100 * e.validationAccuracy]) });
    if ((run.epochs[0]?.validationModalityAccuracy?.length ?? 0) > 1) {
      // The gray head shows the greedy effect: it leans on color through the fusion unless re-balanced.
      series.push({ name: `${run.method} head m1 (gray)`, color: c, dashed: true, points: run.epochs.map((e) => [e.epoch + 1, 100 * e.validationModalityAccuracy![1]]) });
    }
  }
  return linePlot({
    title: 'Validation accuracy per epoch (color independent of the label)',
    xLabel: 'epoch',
    yLabel: 'accuracy %',
    series,
    yRange: [0, 100],
    integerX: true,
  });
}

export function lossPlot(runs: RunResult[]): string {
  const series: Series[] = runs.map((run) => {
    // A moving average keeps the per-step noise readable.
    const window = Math.max(1, Math.floor(run.steps.length / 60));
    const points: [number, number][] = [];
    for (let i = 0; i + window <= run.steps.length; i += window) {
      const chunk = run.steps.slice(i, i + window);
      points.push([chunk[0].step, chunk.reduce((a, s) => a + s.loss, 0) / chunk.length]);
    }
    return { name: run.method, color: color(run.method), points };
  });
  return linePlot({ title: 'Training loss (Σ of the heads’ cross-entropies)', xLabel: 'training step', yLabel: 'loss', series });
}

export function tablePlot(summary: Record<string, MethodSummary>): string {
  return barChart({
    title: 'Test accuracy on the low-correlation split: this run vs the paper (Table 1)',
    yLabel: 'accuracy %',
    yRange: [0, 100],
    groups: Object.entries(summary).map(([method, s]) => ({
      label: method,
      bars: [
        { name: 'this run (mean ± std)', value: 100 * s.testAccuracy.mean, error: 100 * s.testAccuracy.std, color: '#1f77b4' },
        { name: 'paper', value: s.paper ? s.paper.mean : Number.NaN, error: s.paper?.std, color: '#bbbbbb' },
      ],
    })),
  });
}

export function sweepHistograms(byPair: Record<string, { dUtil: number[]; dSpeed: number[] }>): { dUtil: string; dSpeed: string } {
  const palette = ['#d62728', '#1f77b4', '#2ca02c'];
  const entries = Object.entries(byPair);
  return {
    dUtil: histogram({ title: 'd_util over models (Figure 7 analogue)', xLabel: 'd_util', range: [-1, 1], values: entries.map(([name, v], i) => ({ name, values: v.dUtil, color: palette[i % 3] })) }),
    dSpeed: histogram({ title: 'd_speed over models', xLabel: 'd_speed', values: entries.map(([name, v], i) => ({ name, values: v.dSpeed, color: palette[i % 3] })) }),
  };
}
