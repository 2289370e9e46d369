import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { loadSharp } from '../optional-peer.js';
import type { CgMnistSplit } from './colored-mnist.js';
import { renderSampleGrid, type SampleGridLayout, type SampleGridOptions } from './sample-grid.js';

/**
 * Writes a PNG grid of samples: for each, the colored image (m0) then the gray image (m1).
 * Training samples' colors follow their digit; validation/test colors do not.
 */
export async function writeSampleGrid(
  split: CgMnistSplit,
  file: string,
  options: SampleGridOptions = {},
): Promise<SampleGridLayout & { file: string }> {
  const { pixels, layout } = renderSampleGrid(split, options);
  const sharp = await loadSharp('writeSampleGrid encodes the PNG');
  mkdirSync(dirname(file), { recursive: true });
  await sharp(pixels, { raw: { width: layout.width, height: layout.height, channels: 3 } })
    .png()
    .toFile(file);
  return { ...layout, file };
}
