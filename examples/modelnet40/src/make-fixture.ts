// Writes a small synthetic tree in the exact ModelNet40 12-view layout, to try the app end to
// end without the 1.6 GB download: `pnpm --filter @mm/example-modelnet40 fixture /tmp/mn40`.
import { MODELNET40_CLASSES } from '@mm/datasets/modelnet40';
import { writeModelNet40Fixture } from '@mm/datasets/testing';

// `pnpm … fixture -- DIR` passes the separator through.
const args = process.argv.slice(2).filter((a) => a !== '--');
const dir = args[0];
if (!dir) {
  console.error('usage: make-fixture DIR [classes=4] [trainPerClass=6] [testPerClass=3] [size=32]');
  process.exit(2);
}
const [classes, trainPerClass, testPerClass, size] = [1, 2, 3, 4].map((i, k) => Number(args[i] ?? [4, 6, 3, 32][k]));
await writeModelNet40Fixture(dir, { classes: MODELNET40_CLASSES.slice(0, classes), trainPerClass, testPerClass, size });
console.log(`wrote ${classes} classes × (${trainPerClass} train + ${testPerClass} test) objects × 12 views of ${size}×${size} to ${dir}`);
