import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';
import { buildColoredGrayMnist } from './build.js';
import { sampleGridLayout } from './sample-grid.js';
import { writeSampleGrid } from './write-sample-grid.js';

const workDir = mkdtempSync(join(tmpdir(), 'mm-grid-'));
afterAll(() => rmSync(workDir, { recursive: true, force: true }));

describe('sample grid PNG', () => {
  it('writes both modalities of each sample into a PNG of the expected size', async () => {
    const data = buildColoredGrayMnist({ seed: 2, trainSize: 50, testSize: 50 });
    const options = { count: 12, columns: 5, scale: 2, gap: 3 };
    const file = join(workDir, 'nested', 'train.png');
    const written = await writeSampleGrid(data.train, file, options);
    const expected = sampleGridLayout(data.train.size, options);
    expect(written).toEqual({ ...expected, file });
    expect(expected.rows).toBe(Math.ceil(options.count / options.columns));

    const { data: pixels, info } = await sharp(file).raw().toBuffer({ resolveWithObject: true });
    expect([info.width, info.height, info.format]).toEqual([expected.width, expected.height, 'raw']);
    // The first sample's colored image is colored somewhere (channels differ) and its gray image is gray.
    const image = 28 * options.scale;
    let coloredPixels = 0;
    let nonGrayInGray = 0;
    for (let y = options.gap; y < options.gap + image; y++) {
      for (let x = 0; x < image; x++) {
        const at = (left: number) => (y * info.width + left + x) * info.channels;
        const c = at(options.gap);
        if (Math.max(pixels[c], pixels[c + 1], pixels[c + 2]) - Math.min(pixels[c], pixels[c + 1], pixels[c + 2]) > 30) coloredPixels++;
        const g = at(options.gap + image + 1);
        if (pixels[g] !== pixels[g + 1] || pixels[g] !== pixels[g + 2]) nonGrayInGray++;
      }
    }
    expect(coloredPixels).toBeGreaterThan(0);
    expect(nonGrayInGray).toBe(0);
  });
});
