/** A dependency-free SVG line chart of the run's curves, one panel per metric. */

export interface Series {
  label: string;
  values: (number | null)[];
}

export interface Panel {
  title: string;
  series: Series[];
  /** Fixed y range (accuracies: [0, 1]); default from the data. */
  yRange?: [number, number];
}

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b'];

function escapeXml(text: string): string {
  return text.replace(/[<>&"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;' })[c] as string);
}

export function renderPanelsSvg(title: string, panels: Panel[]): string {
  const width = 520;
  const height = 260;
  const margin = { left: 56, right: 16, top: 36, bottom: 36 };
  const parts: string[] = [];
  panels.forEach((panel, p) => {
    const x0 = p * width;
    const all = panel.series.flatMap((s) => s.values.filter((v): v is number => v !== null && Number.isFinite(v)));
    let [lo, hi] = panel.yRange ?? [Math.min(...all, 0), Math.max(...all, 0)];
    if (hi === lo) hi = lo + 1;
    const n = Math.max(1, ...panel.series.map((s) => s.values.length));
    const px = (i: number) => x0 + margin.left + (n === 1 ? 0.5 : i / (n - 1)) * (width - margin.left - margin.right);
    const py = (v: number) => margin.top + (1 - (v - lo) / (hi - lo)) * (height - margin.top - margin.bottom);
    parts.push(`<text x="${x0 + width / 2}" y="20" text-anchor="middle" font-size="14">${escapeXml(panel.title)}</text>`);
    parts.push(`<rect x="${x0 + margin.left}" y="${margin.top}" width="${width - margin.left - margin.right}" height="${height - margin.top - margin.bottom}" fill="none" stroke="#999"/>`);
    for (const tick of [lo, (lo + hi) / 2, hi]) {
      parts.push(`<text x="${x0 + margin.left - 6}" y="${py(tick) + 4}" text-anchor="end" font-size="11">${Number(tick.toPrecision(3))}</text>`);
    }
    parts.push(`<text x="${x0 + width / 2}" y="${height - 8}" text-anchor="middle" font-size="11">epoch (1…${n})</text>`);
    panel.series.forEach((series, s) => {
      const color = COLORS[s % COLORS.length];
      const points = series.values
        .map((v, i) => (v === null || !Number.isFinite(v) ? null : `${px(i).toFixed(1)},${py(v).toFixed(1)}`))
        .filter((pt): pt is string => pt !== null);
      if (points.length > 1) parts.push(`<polyline fill="none" stroke="${color}" stroke-width="2" points="${points.join(' ')}"/>`);
      for (const pt of points) {
        const [cx, cy] = pt.split(',');
        parts.push(`<circle cx="${cx}" cy="${cy}" r="2.5" fill="${color}"/>`);
      }
      parts.push(`<text x="${x0 + margin.left + 8}" y="${margin.top + 14 + 14 * s}" font-size="11" fill="${color}">${escapeXml(series.label)}</text>`);
    });
  });
  const total = width * panels.length;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${total}" height="${height + 24}" font-family="sans-serif">
<rect width="100%" height="100%" fill="white"/>
<text x="8" y="${height + 18}" font-size="11" fill="#555">${escapeXml(title)}</text>
${parts.join('\n')}
</svg>
`;
}
