import { writeNvGestureFixture, type FixtureSampleSpec } from '@mm/datasets/testing';

/** Writes a tiny NVGesture-shaped dataset (RGB + depth AVIs and both list files) to the given directory. */
export function fixtureSamples(perSplit: { train: number; test: number }, classes = 3): FixtureSampleSpec[] {
  const specs: FixtureSampleSpec[] = [];
  for (const split of ['train', 'test'] as const) {
    for (let i = 0; i < perSplit[split]; i++) specs.push({ label: i % classes, videoFrames: 24, start: 2, end: 22, split });
  }
  return specs;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const dir = process.argv.slice(2).find((a) => a !== '--');
  if (!dir) {
    console.error('usage: pnpm --filter @mm/example-nvgesture fixture -- DIR');
    process.exit(2);
  }
  await writeNvGestureFixture(dir, fixtureSamples({ train: 10, test: 4 }), { width: 80, height: 60 });
  console.error(`wrote an NVGesture fixture to ${dir}`);
}
