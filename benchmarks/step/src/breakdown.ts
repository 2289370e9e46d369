import type { KernelTotal } from './profile.js';
import type { Cell } from './table.js';

/** One bench:step profile at one thread count, as compare --breakdown lays them side by side. */
export interface BreakdownColumn {
  threads: number;
  kernels: readonly KernelTotal[];
  /** Median over the profiled steps of wall − Σ kernel ms. */
  outsideKernelsMs: number;
}

const ms = (x: number) => Number(x.toFixed(1));

/**
 * Every kernel's ms per step at each thread count, slowest at the last (highest) thread count
 * first, so the top rows are where the multi-threaded step spends its time; with two or more
 * columns, first ÷ last says how much each kernel gained from the extra threads (1.0: nothing).
 * The `top` slowest kernels get a row each, the rest one "(other kernels)" row, followed by
 * the Σ over kernels and the time outside them.
 */
export function sideBySideKernels(columns: readonly BreakdownColumn[], top: number): { headers: string[]; rows: Cell[][] } {
  if (columns.length === 0) throw new Error('sideBySideKernels: no profiles to compare');
  const last = columns[columns.length - 1];
  const speedup = columns.length > 1;
  const names = [...new Set(columns.flatMap((c) => c.kernels.map((k) => k.name)))];
  const msOf = (column: BreakdownColumn, name: string) => column.kernels.find((k) => k.name === name)?.totalMs ?? 0;
  names.sort((a, b) => msOf(last, b) - msOf(last, a));
  const gain = (first: number, lastMs: number) => (lastMs > 0 ? Number((first / lastMs).toFixed(2)) : null);
  const headers = ['kernel', 'calls', ...columns.map((c) => `ms @${c.threads}t`), ...(speedup ? [`@${columns[0].threads}t ÷ @${last.threads}t`] : [])];

  const rowFor = (label: string, calls: Cell, values: number[]): Cell[] => [
    label,
    calls,
    ...values.map(ms),
    ...(speedup ? [gain(values[0], values[values.length - 1])] : []),
  ];
  const rows: Cell[][] = [];
  for (const name of names.slice(0, top)) {
    const calls = [...new Set(columns.map((c) => c.kernels.find((k) => k.name === name)?.calls ?? 0))];
    // Every thread count runs the same graph; differing counts are shown rather than hidden.
    rows.push(rowFor(name, calls.length === 1 ? calls[0] : calls.join('/'), columns.map((c) => msOf(c, name))));
  }
  const rest = names.slice(top);
  if (rest.length > 0) {
    const restCalls = rest.reduce((sum, name) => sum + (columns[0].kernels.find((k) => k.name === name)?.calls ?? 0), 0);
    rows.push(rowFor(`(other ${rest.length} kernels)`, restCalls, columns.map((c) => rest.reduce((sum, name) => sum + msOf(c, name), 0))));
  }
  const totalCalls = columns[0].kernels.reduce((sum, k) => sum + k.calls, 0);
  rows.push(rowFor('(Σ kernels)', totalCalls, columns.map((c) => c.kernels.reduce((sum, k) => sum + k.totalMs, 0))));
  rows.push(rowFor('(outside kernels)', null, columns.map((c) => c.outsideKernelsMs)));
  return { headers, rows };
}
