import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { loadSharp } from '../optional-peer.js';
import { createRng } from '../random.js';
import { MODELNET40_CLASSES, MODELNET40_NUM_VIEWS } from './modelnet40.js';

export interface ModelNet40FixtureOptions {
  /** Class folders to create (names from MODELNET40_CLASSES). Default the first 3 classes. */
  classes?: readonly string[];
  /** Objects per class in train/ and test/. Defaults 5 and 2. */
  trainPerClass?: number;
  testPerClass?: number;
  /** PNG side in pixels. Default 32. */
  size?: number;
  seed?: number;
}

/**
 * Writes a small tree in the exact MVCNN 12-view layout, for tests and CPU smoke runs: each
 * object is a gray shape on a white background (like the shaded renders) whose size and
 * position depend on the class and turn with the view, plus per-object jitter, so a network
 * can learn the classes from any view. Returns the root folder.
 */
export async function writeModelNet40Fixture(root: string, options: ModelNet40FixtureOptions = {}): Promise<string> {
  const classes = options.classes ?? MODELNET40_CLASSES.slice(0, 3);
  const size = options.size ?? 32;
  const counts = { train: options.trainPerClass ?? 5, test: options.testPerClass ?? 2 };
  const sharp = await loadSharp('writeModelNet40Fixture writes its PNGs');
  const rng = createRng(options.seed ?? 7);
  const writes: Promise<unknown>[] = [];
  for (const [classIndex, className] of classes.entries()) {
    for (const split of ['train', 'test'] as const) {
      const dir = join(root, className, split);
      await mkdir(dir, { recursive: true });
      for (let n = 1; n <= counts[split]; n++) {
        const id = `${className}_${String(n).padStart(4, '0')}`;
        const jitter = (rng.next() - 0.5) * 0.1;
        for (let view = 0; view < MODELNET40_NUM_VIEWS; view++) {
          const angle = (2 * Math.PI * view) / MODELNET40_NUM_VIEWS;
          // Class sets the radius and the gray level; the view moves the centre around a circle.
          const radius = size * (0.15 + 0.08 * (classIndex % 4) + jitter);
          const gray = 40 + ((classIndex * 70) % 160);
          const cx = size / 2 + Math.cos(angle + classIndex) * size * 0.15;
          const cy = size / 2 + Math.sin(angle + classIndex) * size * 0.1;
          const pixels = Buffer.alloc(size * size * 3, 255);
          for (let y = 0; y < size; y++) {
            for (let x = 0; x < size; x++) {
              const inside = classIndex % 2 === 0 ? Math.hypot(x - cx, y - cy) < radius : Math.max(Math.abs(x - cx), Math.abs(y - cy)) < radius;
              if (inside) pixels.fill(gray, 3 * (y * size + x), 3 * (y * size + x) + 3);
            }
          }
          const file = join(dir, `${id}.obj.shaded_v${String(view + 1).padStart(3, '0')}.png`);
          writes.push(sharp(pixels, { raw: { width: size, height: size, channels: 3 } }).png().toFile(file));
        }
      }
    }
  }
  await Promise.all(writes);
  return root;
}
