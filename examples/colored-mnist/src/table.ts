import { formatTable as formatRows, percent, signed, stat, type Stat } from '@mm/example-kit';
import { PAPER_TABLE1 } from './config.js';
import type { RunSummary } from './train-one.js';

export interface MethodSummary {
  runs: number;
  seeds: number[];
  testAccuracy: Stat;
  headAccuracy: Stat[];
  dUtil?: Stat;
  dSpeed?: Stat;
  paper?: { mean: number; std: number };
}

export function summarize(results: RunSummary[]): Record<string, MethodSummary> {
  const byMethod = new Map<string, RunSummary[]>();
  for (const r of results) byMethod.set(r.method, [...(byMethod.get(r.method) ?? []), r]);
  const out: Record<string, MethodSummary> = {};
  for (const [method, runs] of byMethod) {
    const heads = runs[0].testHeadAccuracy.length;
    const dUtils = runs.flatMap((r) => (r.dUtil === undefined ? [] : [r.dUtil]));
    const dSpeeds = runs.flatMap((r) => (r.dSpeed === undefined || r.dSpeed === null ? [] : [r.dSpeed]));
    out[method] = {
      runs: runs.length,
      seeds: runs.map((r) => r.seed),
      testAccuracy: stat(runs.map((r) => r.testAccuracy)),
      headAccuracy: Array.from({ length: heads }, (_, k) => stat(runs.map((r) => r.testHeadAccuracy[k]))),
      ...(dUtils.length ? { dUtil: stat(dUtils) } : {}),
      ...(dSpeeds.length ? { dSpeed: stat(dSpeeds) } : {}),
      ...(PAPER_TABLE1[method] ? { paper: PAPER_TABLE1[method] } : {}),
    };
  }
  return out;
}

/** Table 1's shape: test accuracy (%) on the low-correlation split, per-head accuracies, d_util, d_speed, the paper's figure. */
export function formatTable(summary: Record<string, MethodSummary>): string {
  const rows = [['method', 'runs', 'test acc. %', 'head m0 %', 'head m1 %', 'd_util', 'd_speed', 'paper %']];
  for (const [method, s] of Object.entries(summary)) {
    rows.push([
      method,
      String(s.runs),
      percent(s.testAccuracy),
      percent(s.headAccuracy[0]),
      s.headAccuracy.length > 1 ? percent(s.headAccuracy[1]) : '—',
      signed(s.dUtil),
      signed(s.dSpeed),
      s.paper ? `${s.paper.mean.toFixed(2)} ± ${s.paper.std.toFixed(2)}` : '—',
    ]);
  }
  return formatRows(rows);
}
