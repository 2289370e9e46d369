export interface Stat {
  mean: number;
  std: number;
  n: number;
}

/** Mean and sample standard deviation (n − 1; 0 for a single value), as the papers report. */
export function stat(values: readonly number[]): Stat {
  const n = values.length;
  if (n === 0) return { mean: Number.NaN, std: Number.NaN, n: 0 };
  const mean = values.reduce((a, b) => a + b, 0) / n;
  const std = n > 1 ? Math.sqrt(values.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1)) : 0;
  return { mean, std, n };
}

/** `12.34 ± 0.56` in percent (`12.34` for one value: a spread of one run is not a spread), or — when there is nothing. */
export function percent(s: Stat | undefined): string {
  if (!s || !s.n) return '—';
  return s.n > 1 ? `${(100 * s.mean).toFixed(2)} ± ${(100 * s.std).toFixed(2)}` : (100 * s.mean).toFixed(2);
}

/** `+0.123 ± 0.045` (`+0.123` for one value), or —. */
export function signed(s: Stat | undefined): string {
  if (!s || !s.n) return '—';
  const mean = `${s.mean >= 0 ? '+' : ''}${s.mean.toFixed(3)}`;
  return s.n > 1 ? `${mean} ± ${s.std.toFixed(3)}` : mean;
}

/** A plain-text table: first column left-aligned, the rest right-aligned, a rule under the header. */
export function formatTable(rows: string[][]): string {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  const line = (r: string[]) => r.map((v, c) => (c === 0 ? v.padEnd(widths[c]) : v.padStart(widths[c]))).join('  ');
  return [line(rows[0]), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.slice(1).map(line)].join('\n');
}
