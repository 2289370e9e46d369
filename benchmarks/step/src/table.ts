/**
 * A plain-text table for the comparison reports: a header row, a rule, then the rows; columns of
 * numbers right-aligned (missing cells among them shown as "–"), others left-aligned.
 */
export type Cell = string | number | null | undefined;

export function formatTable(headers: readonly string[], rows: readonly (readonly Cell[])[]): string {
  for (const [i, row] of rows.entries()) {
    if (row.length !== headers.length) throw new Error(`formatTable: row ${i} has ${row.length} cells for ${headers.length} columns`);
  }
  const text = (cell: Cell) => (cell === null || cell === undefined || (typeof cell === 'number' && Number.isNaN(cell)) ? '–' : String(cell));
  const widths = headers.map((h, c) => Math.max(h.length, ...rows.map((row) => text(row[c]).length)));
  const line = (cells: readonly Cell[], alignRight: (c: number) => boolean) =>
    cells
      .map((cell, c) => (alignRight(c) ? text(cell).padStart(widths[c]) : text(cell).padEnd(widths[c])))
      .join('  ')
      .trimEnd();
  const numeric = (c: number) => rows.length > 0 && rows.every((row) => typeof row[c] === 'number' || row[c] == null);
  return [line(headers, numeric), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map((row) => line(row, numeric))].join('\n');
}
