import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Writes each figure as SVG and as a PNG twin (through sharp, loaded when first needed); returns
 * the names written. PNGs are what a terminal-only reader can still open.
 */
export async function writeFigures(dir: string, figures: Record<string, string>): Promise<string[]> {
  let sharp: typeof import('sharp').default;
  try {
    sharp = (await import('sharp')).default;
  } catch {
    throw new Error('the report renders its PNG figures with sharp: npm install sharp');
  }
  const names: string[] = [];
  for (const [name, svg] of Object.entries(figures)) {
    writeFileSync(join(dir, `${name}.svg`), svg);
    await sharp(Buffer.from(svg)).png().toFile(join(dir, `${name}.png`));
    names.push(name);
  }
  return names;
}

const escapeHtml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');

/** A self-contained report page: the table as text, notes, the figures (SVG files beside it). */
export function htmlReport(title: string, table: string, figures: string[], notes: string[]): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>
<style>body{font-family:system-ui,sans-serif;max-width:980px;margin:2em auto;padding:0 1em}pre{background:#f6f6f6;padding:1em;overflow:auto}img{max-width:100%;border:1px solid #ddd;margin:.5em 0}</style>
</head><body>
<h1>${escapeHtml(title)}</h1>
<pre>${escapeHtml(table)}</pre>
${notes.map((n) => `<p>${escapeHtml(n)}</p>`).join('\n')}
${figures.map((f) => `<h2>${escapeHtml(f)}</h2><img src="${f}.svg" alt="${escapeHtml(f)}">`).join('\n')}
</body></html>
`;
}
