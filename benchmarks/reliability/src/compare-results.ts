/** Keys whose values measure time or hold text made from timings: they differ between any two runs. */
const TIMING_KEY = /seconds|persecond|^table$|^throughput$|^backend$/i;

/**
 * Differences between two results (JSON values), ignoring timings: numbers must agree to
 * `tolerance` (relative, absolute near zero), everything else exactly. Returns the paths that
 * differ, at most `limit` of them.
 */
export function resultDifferences(a: unknown, b: unknown, tolerance = 1e-5, limit = 20): string[] {
  const out: string[] = [];
  const visit = (x: unknown, y: unknown, path: string) => {
    if (out.length >= limit) return;
    if (typeof x === 'number' && typeof y === 'number') {
      const same = Object.is(x, y) || Math.abs(x - y) <= tolerance * Math.max(1, Math.abs(x), Math.abs(y));
      if (!same) out.push(`${path}: ${x} vs ${y}`);
      return;
    }
    if (Array.isArray(x) && Array.isArray(y)) {
      if (x.length !== y.length) out.push(`${path}: ${x.length} vs ${y.length} items`);
      else x.forEach((v, i) => visit(v, y[i], `${path}[${i}]`));
      return;
    }
    if (x !== null && y !== null && typeof x === 'object' && typeof y === 'object') {
      const keys = new Set([...Object.keys(x), ...Object.keys(y)]);
      for (const key of keys) {
        if (TIMING_KEY.test(key)) continue;
        visit((x as Record<string, unknown>)[key], (y as Record<string, unknown>)[key], path ? `${path}.${key}` : key);
      }
      return;
    }
    if (x !== y) out.push(`${path}: ${JSON.stringify(x)?.slice(0, 80)} vs ${JSON.stringify(y)?.slice(0, 80)}`);
  };
  visit(a, b, '');
  return out;
}
