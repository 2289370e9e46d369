/** An RGB color with channels in [0, 1]. */
export type Rgb = readonly [number, number, number];

/**
 * The 10 class mean colors of Colored-and-gray-MNIST (Kim et al. 2019 never published theirs,
 * only generated files). Digit d's training strokes get color d plus noise.
 *
 * Chosen to be far apart and bright (the background is black, so dark colors would blur into it
 * and into the stroke's anti-aliased edge): the seven non-black corners of the RGB cube plus the
 * three half-saturated primaries. Every pair is at least √0.5 ≈ 0.71 apart, so with the default
 * noise (σ² = 0.02, σ ≈ 0.14 per channel) the nearest mean color recovers the class for ≈98% of
 * training samples, i.e. color predicts the label almost perfectly.
 */
export const DEFAULT_CLASS_COLORS: readonly Rgb[] = Object.freeze([
  [1, 0, 0], // 0 red
  [0, 1, 0], // 1 green
  [0, 0, 1], // 2 blue
  [1, 1, 0], // 3 yellow
  [1, 0, 1], // 4 magenta
  [0, 1, 1], // 5 cyan
  [1, 1, 1], // 6 white
  [1, 0.5, 0.5], // 7 salmon
  [0.5, 1, 0.5], // 8 light green
  [0.5, 0.5, 1], // 9 light blue
] as const);

export const CLASS_COLOR_NAMES: readonly string[] = Object.freeze([
  'red',
  'green',
  'blue',
  'yellow',
  'magenta',
  'cyan',
  'white',
  'salmon',
  'light green',
  'light blue',
]);

/** Index of the mean color nearest (Euclidean, RGB) to `rgb`. */
export function nearestColorIndex(rgb: ArrayLike<number>, colors: readonly Rgb[] = DEFAULT_CLASS_COLORS): number {
  let best = 0;
  let bestDistance = Infinity;
  for (let k = 0; k < colors.length; k++) {
    const c = colors[k];
    const distance = (rgb[0] - c[0]) ** 2 + (rgb[1] - c[1]) ** 2 + (rgb[2] - c[2]) ** 2;
    if (distance < bestDistance) {
      bestDistance = distance;
      best = k;
    }
  }
  return best;
}
