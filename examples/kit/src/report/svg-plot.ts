/** Minimal SVG charts, rendered without a browser (and to PNG through sharp). */

export interface Series {
  name: string;
  points: [number, number][];
  color: string;
  dashed?: boolean;
  markers?: boolean;
}

export interface Band {
  x0: number;
  x1: number;
  color: string;
}

export interface LinePlotOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  series: Series[];
  bands?: Band[];
  /** Legend entries for the bands. */
  bandLegend?: { name: string; color: string }[];
  yRange?: [number, number];
  width?: number;
  height?: number;
  /** Horizontal reference lines (e.g. ±α). */
  hLines?: { y: number; color: string; label?: string }[];
  /** Vertical reference lines (e.g. a mean). */
  vLines?: { x: number; color: string }[];
  /** Only whole-number ticks on the x axis (epochs). */
  integerX?: boolean;
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const FONT = 'font-family="DejaVu Sans, Arial, sans-serif"';

function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? raw;
  const ticks: number[] = [];
  // Ticks are built by repeated addition; snap the float residue of a zero tick (-5.55e-17) to 0.
  for (let t = Math.ceil(lo / step) * step; t <= hi + step * 1e-9; t += step) ticks.push(Math.abs(t) < step * 1e-9 ? 0 : Number(t.toPrecision(12)));
  return ticks;
}

const fmt = (v: number) => (Math.abs(v) >= 1000 ? v.toFixed(0) : Number(v.toPrecision(3)).toString());

function frame(width: number, height: number, title: string, body: string): string {
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">
<rect width="100%" height="100%" fill="white"/>
<text x="${width / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold" ${FONT}>${esc(title)}</text>
${body}
</svg>`;
}

export function linePlot(o: LinePlotOptions): string {
  const legendChars = Math.max(0, ...o.series.map((s) => s.name.length), ...(o.bandLegend ?? []).map((b) => b.name.length));
  // The legend sits right of the plot; ~6.5 px per character at 11 px keeps long labels inside the image.
  const right = Math.max(200, 42 + Math.ceil(legendChars * 6.5));
  const width = o.width ?? 560 + right;
  const height = o.height ?? 360;
  const m = { left: 62, right, top: 36, bottom: 48 };
  const pw = width - m.left - m.right;
  const ph = height - m.top - m.bottom;
  const xs = o.series
    .flatMap((s) => s.points.map((p) => p[0]))
    .concat(o.bands?.flatMap((b) => [b.x0, b.x1]) ?? [], o.vLines?.map((v) => v.x) ?? []);
  const ys = o.series.flatMap((s) => s.points.map((p) => p[1])).filter(Number.isFinite).concat(o.hLines?.map((h) => h.y) ?? []);
  const x0 = Math.min(...xs, 0);
  const x1 = Math.max(...xs, 1);
  let [y0, y1] = o.yRange ?? [Math.min(...ys, 0), Math.max(...ys, 0)];
  if (y1 - y0 < 1e-9) [y0, y1] = [y0 - 1, y1 + 1];
  const sx = (x: number) => m.left + ((x - x0) / (x1 - x0 || 1)) * pw;
  const sy = (y: number) => m.top + ph - ((y - y0) / (y1 - y0)) * ph;
  const parts: string[] = [];
  for (const b of o.bands ?? []) {
    parts.push(`<rect x="${sx(b.x0).toFixed(1)}" y="${m.top}" width="${Math.max(1, sx(b.x1) - sx(b.x0)).toFixed(1)}" height="${ph}" fill="${b.color}" opacity="0.35"/>`);
  }
  for (const t of niceTicks(y0, y1)) {
    parts.push(`<line x1="${m.left}" x2="${m.left + pw}" y1="${sy(t)}" y2="${sy(t)}" stroke="#ddd"/>`);
    parts.push(`<text x="${m.left - 6}" y="${sy(t) + 4}" text-anchor="end" font-size="11" ${FONT}>${fmt(t)}</text>`);
  }
  for (const t of niceTicks(x0, x1, 6).filter((t) => !o.integerX || Number.isInteger(t))) {
    parts.push(`<text x="${sx(t)}" y="${m.top + ph + 16}" text-anchor="middle" font-size="11" ${FONT}>${fmt(t)}</text>`);
  }
  for (const h of o.hLines ?? []) {
    parts.push(`<line x1="${m.left}" x2="${m.left + pw}" y1="${sy(h.y)}" y2="${sy(h.y)}" stroke="${h.color}" stroke-dasharray="4 3"/>`);
    if (h.label) parts.push(`<text x="${m.left + pw - 4}" y="${sy(h.y) - 4}" text-anchor="end" font-size="10" fill="${h.color}" ${FONT}>${esc(h.label)}</text>`);
  }
  for (const v of o.vLines ?? []) {
    parts.push(`<line x1="${sx(v.x)}" x2="${sx(v.x)}" y1="${m.top}" y2="${m.top + ph}" stroke="${v.color}" stroke-dasharray="5 3" stroke-width="1.5"/>`);
  }
  parts.push(`<rect x="${m.left}" y="${m.top}" width="${pw}" height="${ph}" fill="none" stroke="#333"/>`);
  for (const s of o.series) {
    const pts = s.points.filter((p) => Number.isFinite(p[1]));
    if (pts.length === 0) continue;
    const d = pts.map((p, i) => `${i ? 'L' : 'M'}${sx(p[0]).toFixed(1)},${sy(p[1]).toFixed(1)}`).join('');
    parts.push(`<path d="${d}" fill="none" stroke="${s.color}" stroke-width="1.8"${s.dashed ? ' stroke-dasharray="6 3"' : ''}/>`);
    if (s.markers) for (const p of pts) parts.push(`<circle cx="${sx(p[0]).toFixed(1)}" cy="${sy(p[1]).toFixed(1)}" r="3" fill="${s.color}"/>`);
  }
  parts.push(`<text x="${m.left + pw / 2}" y="${height - 10}" text-anchor="middle" font-size="12" ${FONT}>${esc(o.xLabel)}</text>`);
  parts.push(`<text transform="translate(16 ${m.top + ph / 2}) rotate(-90)" text-anchor="middle" font-size="12" ${FONT}>${esc(o.yLabel)}</text>`);
  const legend = [
    ...o.series.map((s) => ({ name: s.name, color: s.color, band: false, dashed: s.dashed })),
    ...(o.bandLegend ?? []).map((b) => ({ ...b, band: true, dashed: false })),
  ];
  legend.forEach((l, i) => {
    const y = m.top + 10 + i * 18;
    const x = m.left + pw + 12;
    parts.push(
      l.band
        ? `<rect x="${x}" y="${y - 8}" width="18" height="10" fill="${l.color}" opacity="0.35"/>`
        : `<line x1="${x}" x2="${x + 18}" y1="${y - 3}" y2="${y - 3}" stroke="${l.color}" stroke-width="2"${l.dashed ? ' stroke-dasharray="5 3"' : ''}/>`,
    );
    parts.push(`<text x="${x + 24}" y="${y + 1}" font-size="11" ${FONT}>${esc(l.name)}</text>`);
  });
  return frame(width, height, o.title, parts.join('\n'));
}

export interface BarGroup {
  label: string;
  bars: { name: string; value: number; error?: number; color: string }[];
}

export function barChart(o: { title: string; yLabel: string; groups: BarGroup[]; yRange?: [number, number]; width?: number; height?: number }): string {
  // Many groups get wider bars and slanted labels, so names never run into each other.
  const crowded = o.groups.length > 6;
  const longestLabel = Math.max(0, ...o.groups.map((g) => g.label.length));
  const width = o.width ?? Math.max(760, 212 + o.groups.length * 48);
  const height = o.height ?? 360 + (crowded ? Math.ceil(longestLabel * 4.6) : 0);
  const m = { left: 62, right: 150, top: 36, bottom: crowded ? 30 + Math.ceil(longestLabel * 4.6) : 60 };
  const pw = width - m.left - m.right;
  const ph = height - m.top - m.bottom;
  const values = o.groups.flatMap((g) => g.bars.map((b) => b.value + (b.error ?? 0)));
  const [y0, y1] = o.yRange ?? [0, Math.max(...values, 1)];
  const sy = (y: number) => m.top + ph - ((y - y0) / (y1 - y0)) * ph;
  const parts: string[] = [];
  for (const t of niceTicks(y0, y1)) {
    parts.push(`<line x1="${m.left}" x2="${m.left + pw}" y1="${sy(t)}" y2="${sy(t)}" stroke="#ddd"/>`);
    parts.push(`<text x="${m.left - 6}" y="${sy(t) + 4}" text-anchor="end" font-size="11" ${FONT}>${fmt(t)}</text>`);
  }
  const gw = pw / Math.max(1, o.groups.length);
  const names = new Map<string, string>();
  o.groups.forEach((g, gi) => {
    const bw = (gw * 0.8) / Math.max(1, g.bars.length);
    g.bars.forEach((b, bi) => {
      names.set(b.name, b.color);
      if (!Number.isFinite(b.value)) return;
      const x = m.left + gi * gw + gw * 0.1 + bi * bw;
      parts.push(`<rect x="${x.toFixed(1)}" y="${sy(b.value).toFixed(1)}" width="${(bw * 0.9).toFixed(1)}" height="${(sy(y0) - sy(b.value)).toFixed(1)}" fill="${b.color}"/>`);
      if (b.error) {
        const cx = x + bw * 0.45;
        parts.push(`<line x1="${cx}" x2="${cx}" y1="${sy(b.value - b.error)}" y2="${sy(b.value + b.error)}" stroke="#222"/>`);
      }
      parts.push(`<text x="${(x + bw * 0.45).toFixed(1)}" y="${(sy(b.value) - 4).toFixed(1)}" text-anchor="middle" font-size="9" ${FONT}>${b.value.toFixed(1)}</text>`);
    });
    const lx = m.left + gi * gw + gw / 2;
    const ly = m.top + ph + 16;
    parts.push(
      crowded
        ? `<text x="${lx}" y="${ly}" text-anchor="end" transform="rotate(-40 ${lx} ${ly})" font-size="11" ${FONT}>${esc(g.label)}</text>`
        : `<text x="${lx}" y="${ly}" text-anchor="middle" font-size="11" ${FONT}>${esc(g.label)}</text>`,
    );
  });
  parts.push(`<rect x="${m.left}" y="${m.top}" width="${pw}" height="${ph}" fill="none" stroke="#333"/>`);
  parts.push(`<text transform="translate(16 ${m.top + ph / 2}) rotate(-90)" text-anchor="middle" font-size="12" ${FONT}>${esc(o.yLabel)}</text>`);
  [...names].forEach(([name, color], i) => {
    const y = m.top + 10 + i * 18;
    parts.push(`<rect x="${m.left + pw + 12}" y="${y - 9}" width="14" height="10" fill="${color}"/>`);
    parts.push(`<text x="${m.left + pw + 32}" y="${y}" font-size="11" ${FONT}>${esc(name)}</text>`);
  });
  return frame(width, height, o.title, parts.join('\n'));
}

/** Histogram of values with a dashed line at their mean (the Figure 7 analogue). */
export function histogram(o: { title: string; xLabel: string; values: { name: string; values: number[]; color: string }[]; bins?: number; range?: [number, number] }): string {
  const all = o.values.flatMap((v) => v.values).filter(Number.isFinite);
  const [lo, hi] = o.range ?? [Math.min(...all, -1), Math.max(...all, 1)];
  const bins = o.bins ?? 16;
  const width = (hi - lo) / bins || 1;
  const series: Series[] = o.values.map((v, k) => {
    const counts = new Array(bins).fill(0);
    for (const x of v.values) if (Number.isFinite(x)) counts[Math.min(bins - 1, Math.max(0, Math.floor((x - lo) / width)))]++;
    // Each bin is split into one slot per series, so series that fall in the same bins stay visible side by side.
    const slot = width / o.values.length;
    const points: [number, number][] = [];
    counts.forEach((c, i) => {
      const x = lo + i * width + k * slot;
      points.push([x, 0], [x, c], [x + slot, c], [x + slot, 0]);
    });
    const mean = v.values.reduce((a, b) => a + b, 0) / Math.max(1, v.values.length);
    return { name: `${v.name} (mean ${mean >= 0 ? '+' : ''}${mean.toFixed(3)})`, points, color: v.color };
  });
  const means = o.values.map((v) => v.values.reduce((a, b) => a + b, 0) / Math.max(1, v.values.length));
  return linePlot({
    title: o.title,
    xLabel: o.xLabel,
    yLabel: 'models',
    series,
    yRange: [0, Math.max(1, ...series.flatMap((s) => s.points.map((p) => p[1])))],
    vLines: [{ x: 0, color: '#888' }, ...means.map((x, i) => ({ x, color: o.values[i].color }))],
  });
}
