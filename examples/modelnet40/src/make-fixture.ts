// Writes a small synthetic tree in the exact ModelNet40 12-view layout, to try the app end to
// end without the 1.6 GB download: `pnpm --filter @mm/example-modelnet40 fixture /tmp/mn40`.
import { writeModelNet40Fixture } from '@mm/datasets';

const dir = process.argv[2];
if (!dir) {
  console.error('usage: make-fixture DIR [classes=4] [trainPerClass=6] [testPerClass=3] [size=32]');
  process.exit(2);
}
const [classes, trainPerClass, testPerClass, size] = [3, 4, 5, 6].map((i, k) => Number(process.argv[i] ?? [4, 6, 3, 32][k]));
const { MODELNET40_CLASSES } = await import('@mm/datasets');
await writeModelNet40Fixture(dir, { classes: MODELNET40_CLASSES.slice(0, classes), trainPerClass, testPerClass, size });
console.log(`wrote ${classes} classes × (${trainPerClass} train + ${testPerClass} test) objects × 12 views of ${size}×${size} to ${dir}`);
