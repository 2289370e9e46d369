import { describe, expect, it } from 'vitest';
import { barChart, histogram, linePlot } from './svg-plot.js';

describe('svg plots', () => {
  it('labels a zero tick 0, not the float residue of adding steps', () => {
    const svg = linePlot({ title: 't', xLabel: 'x', yLabel: 'y', series: [{ name: 's', color: '#000', points: [[0, -0.6], [1, 0.1]] }], yRange: [-0.6, 0.1] });
    expect(svg).not.toMatch(/e-1\d/);
    expect(svg).toMatch(/>0<\/text>/);
  });

  it('keeps every histogram series visible when they fall in the same bins', () => {
    const svg = histogram({ title: 'h', xLabel: 'd', range: [-1, 1], values: [
      { name: 'a', values: [0.01, 0.02], color: '#f00' },
      { name: 'b', values: [0.01, 0.02], color: '#00f' },
    ] });
    const paths = [...svg.matchAll(/<path d="([^"]+)" fill="none" stroke="(#f00|#00f)"/g)];
    expect(paths).toHaveLength(2);
    expect(paths[0][1]).not.toBe(paths[1][1]);
  });

  it('widens a line plot so the longest legend label fits', () => {
    const long = 'x'.repeat(60);
    const svg = linePlot({ title: 't', xLabel: 'x', yLabel: 'y', series: [{ name: long, color: '#000', points: [[0, 0], [1, 1]] }] });
    const width = Number(/<svg[^>]* width="(\d+)"/.exec(svg)![1]);
    expect(width).toBeGreaterThanOrEqual(560 + 42 + Math.ceil(60 * 6.5));
  });

  it('slants bar labels when there are many groups', () => {
    const groups = Array.from({ length: 12 }, (_, i) => ({ label: `method-${i}`, bars: [{ name: 'v', value: i, color: '#000' }] }));
    expect(barChart({ title: 'b', yLabel: 'y', groups })).toMatch(/rotate\(-40/);
    expect(barChart({ title: 'b', yLabel: 'y', groups: groups.slice(0, 3) })).not.toMatch(/rotate\(-40/);
  });
});
