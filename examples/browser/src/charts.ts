// Small SVG line charts: enough for a few series of a few thousand points, no dependency.

export interface Series {
  name: string;
  color: string;
  points: readonly (readonly [number, number])[];
  dashed?: boolean;
}

/** A shaded x-range, e.g. a window of re-balancing steps. */
export interface Band {
  from: number;
  to: number;
  color: string;
}

export interface ChartOptions {
  title: string;
  /** Fixed y-range (e.g. [0, 1] for accuracies); otherwise fitted to the data. */
  yRange?: readonly [number, number];
}

const WIDTH = 560;
const HEIGHT = 200;
const MARGIN = { left: 46, right: 10, top: 34, bottom: 22 };
const SVG = 'http://www.w3.org/2000/svg';

function element<K extends keyof SVGElementTagNameMap>(name: K, attributes: Record<string, string | number>, text?: string): SVGElementTagNameMap[K] {
  const node = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, String(value));
  if (text !== undefined) node.textContent = text;
  return node;
}

const format = (v: number) => (Math.abs(v) >= 100 || v === 0 ? v.toFixed(0) : Math.abs(v) >= 1 ? v.toFixed(2) : v.toPrecision(2));

export class LineChart {
  readonly svg: SVGSVGElement;

  constructor(
    container: HTMLElement,
    private readonly options: ChartOptions,
  ) {
    this.svg = element('svg', { viewBox: `0 0 ${WIDTH} ${HEIGHT}`, role: 'img', 'aria-label': options.title, class: 'chart' });
    container.append(this.svg);
    this.draw([], []);
  }

  /** Redraws everything; `xMax` keeps the x-axis from shrinking between updates. */
  draw(series: readonly Series[], bands: readonly Band[] = [], xMax?: number): void {
    const svg = this.svg;
    svg.replaceChildren(element('text', { x: MARGIN.left, y: 15, class: 'chart-title' }, this.options.title));
    const xs = series.flatMap((s) => s.points.map((p) => p[0]));
    const ys = series.flatMap((s) => s.points.map((p) => p[1])).filter(Number.isFinite);
    const x0 = 0;
    const x1 = Math.max(1, xMax ?? 0, ...xs);
    let [y0, y1] = this.options.yRange ?? [Math.min(0, ...ys), Math.max(...ys, 1e-9)];
    if (this.options.yRange === undefined && ys.length > 0) {
      y0 = Math.min(...ys);
      y1 = Math.max(...ys);
      const pad = (y1 - y0) * 0.08 || Math.abs(y1) * 0.1 || 1;
      y0 -= pad;
      y1 += pad;
    }
    const plotWidth = WIDTH - MARGIN.left - MARGIN.right;
    const plotHeight = HEIGHT - MARGIN.top - MARGIN.bottom;
    const sx = (x: number) => MARGIN.left + ((x - x0) / (x1 - x0)) * plotWidth;
    const sy = (y: number) => MARGIN.top + (1 - (y - y0) / (y1 - y0)) * plotHeight;

    for (const band of bands) {
      svg.append(element('rect', { x: sx(band.from), y: MARGIN.top, width: Math.max(1, sx(band.to) - sx(band.from)), height: plotHeight, fill: band.color, class: 'band' }));
    }
    svg.append(element('rect', { x: MARGIN.left, y: MARGIN.top, width: plotWidth, height: plotHeight, class: 'frame' }));
    if (y0 < 0 && y1 > 0) svg.append(element('line', { x1: MARGIN.left, x2: WIDTH - MARGIN.right, y1: sy(0), y2: sy(0), class: 'zero' }));
    for (const [y, anchor] of [[y1, 'top'], [y0, 'bottom']] as const) {
      svg.append(element('text', { x: MARGIN.left - 4, y: anchor === 'top' ? MARGIN.top + 9 : HEIGHT - MARGIN.bottom, class: 'tick', 'text-anchor': 'end' }, format(y)));
    }
    svg.append(element('text', { x: WIDTH - MARGIN.right, y: HEIGHT - 6, class: 'tick', 'text-anchor': 'end' }, `step ${Math.round(x1)}`));

    // The legend: one row under the title, right-aligned.
    let legendX = WIDTH - MARGIN.right;
    for (const s of [...series].reverse()) {
      if (s.name !== '') {
        svg.append(element('text', { x: legendX, y: 28, class: 'legend', fill: s.color, 'text-anchor': 'end' }, s.name));
        legendX -= 10 + 6.2 * s.name.length;
      }
      const finite = s.points.filter((p) => Number.isFinite(p[1]));
      if (finite.length === 0) continue;
      const d = finite.map((p, i) => `${i === 0 ? 'M' : 'L'}${sx(p[0]).toFixed(1)} ${sy(p[1]).toFixed(1)}`).join('');
      svg.append(element('path', { d, stroke: s.color, class: `series${s.dashed ? ' dashed' : ''}`, 'data-series': s.name, 'data-points': finite.length }));
      if (finite.length === 1) svg.append(element('circle', { cx: sx(finite[0][0]), cy: sy(finite[0][1]), r: 2.5, fill: s.color }));
    }
  }
}
