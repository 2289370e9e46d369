import type { AppReport, WriteMoment } from './kill-resume.js';

/** The order the table lists where write-aimed kills landed. */
export const WRITE_MOMENTS: readonly WriteMoment[] = ['writing the new folder', 'between the two renames', 'deleting the previous folder', 'after the write'];

/** How many kills were aimed at a checkpoint write, and where each landed. */
export function aimedKills(report: AppReport): { total: number; landed: Record<WriteMoment, number> } {
  const aimed = report.kills.filter((k) => k.aim === 'checkpoint');
  const landed = Object.fromEntries(WRITE_MOMENTS.map((m) => [m, aimed.filter((k) => k.moment === m).length])) as Record<WriteMoment, number>;
  return { total: aimed.length, landed };
}

/**
 * The reports of several loops as one list, one report per app: a later report of an app
 * replaces an earlier one (a rerun after a fix), in the place the app first had.
 */
export function mergeReports(...lists: readonly (readonly AppReport[])[]): AppReport[] {
  const byApp = new Map<string, AppReport>();
  for (const report of lists.flat()) byApp.set(report.app, report);
  return [...byApp.values()];
}

/** Reads the `reports` of a file the kill-resume loop wrote; `file` names it in errors. */
export function parseReports(text: string, file: string): AppReport[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new Error(`${file}: not JSON (${(error as Error).message}); give a file written by kill-resume --report`);
  }
  const reports = (parsed as { reports?: unknown } | null)?.reports;
  if (!Array.isArray(reports) || !reports.every((r) => typeof r?.app === 'string' && Array.isArray(r.kills) && typeof r.compared === 'object'))
    throw new Error(`${file}: no "reports" list of kill-resume app reports; give a file written by kill-resume --report`);
  return reports as AppReport[];
}

const HEADER = [
  'app',
  'kills',
  'aimed at a write, landed: writing the new folder / between the renames / deleting the old one / after',
  'runs taken to the end',
  'checkpoints read back',
  'unreadable',
  'went back',
  'failed starts',
  'compared with the uninterrupted run: step losses, epoch logs, weight values',
  'differences',
  'left by killed writers in finished runs',
  'uninterrupted run, s',
  'whole loop, min',
  'ok',
];

/** The markdown table of RELIABILITY.md's kill-and-resume section, every figure read from the reports. */
export function killResumeTable(reports: readonly AppReport[]): string {
  const rows = reports.map((r) => {
    const { total, landed } = aimedKills(r);
    return [
      r.app,
      String(r.kills.length),
      `${total}: ${WRITE_MOMENTS.map((m) => landed[m]).join(' / ')}`,
      String(r.runs),
      String(r.checkpointsRead),
      String(r.unreadable.length),
      String(r.regressions.length),
      String(r.failedStarts.length),
      `${r.compared.steps}, ${r.compared.epochs}, ${r.compared.weights.toLocaleString('en-US')}`,
      String(r.differences.length),
      String(r.leftovers.length),
      r.referenceSeconds.toFixed(0),
      r.loopSeconds === undefined ? 'not recorded' : (r.loopSeconds / 60).toFixed(0),
      r.ok ? 'yes' : 'NO',
    ];
  });
  return [HEADER, HEADER.map(() => '---'), ...rows].map((cells) => `| ${cells.join(' | ')} |`).join('\n');
}

/**
 * `doc` with the text between `<!-- name -->` and `<!-- /name -->` replaced by `content`, so the
 * table can be rendered again after another loop. `file` names the document in errors.
 */
export function replaceBetweenMarkers(doc: string, name: string, content: string, file: string): string {
  const open = `<!-- ${name} -->`;
  const close = `<!-- /${name} -->`;
  const start = doc.indexOf(open);
  const end = doc.indexOf(close);
  if (start < 0 || end < start || doc.indexOf(open, start + 1) >= 0)
    throw new Error(`${file}: needs exactly one '${open}' followed by '${close}' where the table goes; add the two lines there`);
  return `${doc.slice(0, start + open.length)}\n${content}\n${doc.slice(end)}`;
}
