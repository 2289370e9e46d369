import type { RunResult } from './train-run.js';
import { PAPER_TABLE1, type Method } from './settings.js';

export interface Stat {
  mean: number;
  std: number;
  n: number;
}

/** Mean and sample standard deviation (n − 1; 0 for a single run), as the paper reports. */
export function stat(values: number[]): Stat {
  const n = values.length;
  if (n === 0) return { mean: Number.NaN, std: Number.NaN, n: 0 };
  const mean = values.reduce((a, b) => a + b, 0) / n;
  const std = n > 1 ? Math.sqrt(values.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1)) : 0;
  return { mean, std, n };
}

export interface MethodSummary {
  runs: number;
  seeds: number[];
  testAccuracy: Stat;
  headAccuracy: Stat[];
  dUtil?: Stat;
  dSpeed?: Stat;
  paper?: { mean: number; std: number };
}

export function summarize(results: RunResult[]): Record<string, MethodSummary> {
  const byMethod = new Map<Method, RunResult[]>();
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

const pct = (s: Stat | undefined) => (s && s.n ? `${(100 * s.mean).toFixed(2)} ± ${(100 * s.std).toFixed(2)}` : '—');
const num = (s: Stat | undefined) => (s && s.n ? `${s.mean >= 0 ? '+' : ''}${s.mean.toFixed(3)} ± ${s.std.toFixed(3)}` : '—');

/** Table 1's shape: test accuracy (%) on the low-correlation split, per-head accuracies, d_util, d_speed, the paper's figure. */
export function formatTable(summary: Record<string, MethodSummary>): string {
  const rows = [['method', 'runs', 'test acc. %', 'head m0 %', 'head m1 %', 'd_util', 'd_speed', 'paper %']];
  for (const [method, s] of Object.entries(summary)) {
    rows.push([
      method,
      String(s.runs),
      pct(s.testAccuracy),
      pct(s.headAccuracy[0]),
      s.headAccuracy.length > 1 ? pct(s.headAccuracy[1]) : '—',
      num(s.dUtil),
      num(s.dSpeed),
      s.paper ? `${s.paper.mean.toFixed(2)} ± ${s.paper.std.toFixed(2)}` : '—',
    ]);
  }
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  const line = (r: string[]) => r.map((v, c) => (c === 0 ? v.padEnd(widths[c]) : v.padStart(widths[c]))).join('  ');
  return [line(rows[0]), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.slice(1).map(line)].join('\n');
}
