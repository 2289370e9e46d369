import fc from 'fast-check';
import { cp, mkdir, mkdtemp, readFile, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeModelNet40Fixture } from './fixture.js';
import { MAX_VIEW_PIXELS, MODELNET40_CLASSES, ModelNet40Error, openModelNet40, type ModelNet40 } from './modelnet40.js';

const CLASSES = ['airplane', 'bed', 'chair'];
const SIZE = 32;
/** Runs of the properties that copy and decode a whole fixture: a twentieth of FUZZ_RUNS. */
const fileRuns = () => Math.max(4, Math.round(fc.readConfigureGlobal().numRuns! / 20));

let base: string;
let fixture: string;
/** Each test object's decoded views in the undamaged fixture, by id. */
const pristine = new Map<string, Float32Array[]>();
let hugePng: Buffer;
let wideCopy = 0;

async function decodeEach(dataset: ModelNet40): Promise<Map<string, Float32Array[] | ModelNet40Error>> {
  const out = new Map<string, Float32Array[] | ModelNet40Error>();
  for (let i = 0; i < dataset.test.size; i++) {
    try {
      const batch = await dataset.test.loadBatch([i]);
      // With skipBadObjects the object is dropped and its reason listed instead of thrown.
      out.set(dataset.test.objects[i].id, batch.size === 1 ? batch.inputs : new ModelNet40Error(dataset.skipped.at(-1)!.reason));
    } catch (error) {
      if (!(error instanceof ModelNet40Error)) throw error;
      out.set(dataset.test.objects[i].id, error);
    }
  }
  return out;
}

beforeAll(async () => {
  base = await mkdtemp(join(tmpdir(), 'mm-modelnet40-fuzz-'));
  fixture = await writeModelNet40Fixture(join(base, 'fixture'), { classes: CLASSES, trainPerClass: 4, testPerClass: 2, size: SIZE });
  for (const [id, views] of await decodeEach(await openModelNet40({ root: fixture, imageSize: SIZE }))) pristine.set(id, views as Float32Array[]);
  // Larger than MAX_VIEW_PIXELS, yet a few kilobytes: one colour.
  const side = Math.ceil(Math.sqrt(MAX_VIEW_PIXELS)) + 1;
  hugePng = await sharp({ create: { width: side, height: side, channels: 3, background: { r: 9, g: 9, b: 9 } } }).png().toBuffer();
});

afterAll(async () => {
  await rm(base, { recursive: true, force: true });
});

type Defect =
  | { kind: 'truncate'; fraction: number }
  | { kind: 'overwrite'; fraction: number; value: number }
  | { kind: 'not-an-image' | 'empty' | 'non-square' | 'too-large' | 'missing' };

/** Defects that must make the object bad, whatever the decoder tolerates. */
const ALWAYS_BAD = new Set(['not-an-image', 'empty', 'non-square', 'too-large', 'missing']);

async function damage(file: string, defect: Defect): Promise<void> {
  const bytes = await readFile(file);
  switch (defect.kind) {
    case 'truncate':
      return writeFile(file, bytes.subarray(0, Math.floor(defect.fraction * bytes.length)));
    case 'overwrite': {
      const copy = Buffer.from(bytes);
      copy[Math.floor(defect.fraction * copy.length)] = defect.value;
      return writeFile(file, copy);
    }
    case 'not-an-image':
      return writeFile(file, 'solid,airplane\n1,2,3\n');
    case 'empty':
      return writeFile(file, '');
    case 'non-square':
      return writeFile(file, await sharp({ create: { width: SIZE, height: SIZE - 8 + (wideCopy++ % 4), channels: 3, background: '#808080' } }).png().toBuffer());
    case 'too-large':
      return writeFile(file, hugePng);
    case 'missing':
      return unlink(file);
  }
}

const defect: fc.Arbitrary<Defect> = fc.oneof(
  fc.record({ kind: fc.constant('truncate' as const), fraction: fc.double({ min: 0, max: 0.999, noNaN: true }) }),
  fc.record({ kind: fc.constant('overwrite' as const), fraction: fc.double({ min: 0, max: 0.999, noNaN: true }), value: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ kind: fc.constantFrom('not-an-image' as const, 'empty' as const, 'non-square' as const, 'too-large' as const, 'missing' as const) }),
);

describe('ModelNet40 views fuzzing', () => {
  it('damaged views: a ModelNet40Error naming the file, or exactly the undamaged pixels; skipping drops exactly the bad objects', async () => {
    const ids = [...CLASSES.flatMap((c) => [1, 2].map((n) => `${c}_${String(n).padStart(4, '0')}`))];
    let run = 0;
    await fc.assert(
      fc.asyncProperty(fc.dictionary(fc.constantFrom(...ids), fc.tuple(fc.constantFrom(1, 7), defect), { minKeys: 1, maxKeys: 4 }), async (damages) => {
        const root = join(base, `damaged-${run++}`);
        await cp(fixture, root, { recursive: true });
        const files = new Map<string, string>();
        for (const [id, [view, d]] of Object.entries(damages)) {
          const file = join(root, id.replace(/_\d+$/, ''), 'test', `${id}.obj.shaded_v${String(view).padStart(3, '0')}.png`);
          files.set(id, file);
          await damage(file, d);
        }
        const missing = Object.entries(damages).filter(([, [, d]]) => d.kind === 'missing').map(([id]) => id);
        // Each object on its own, strictly: bad ones fail naming their file, the others decode to the undamaged pixels.
        const strict = await openModelNet40({ root, imageSize: SIZE, skipBadObjects: missing.length > 0 });
        const bad = new Set(missing);
        for (const [id, result] of await decodeEach(strict)) {
          if (result instanceof ModelNet40Error) {
            expect(files.has(id)).toBe(true);
            expect(result.message).toContain(files.get(id));
            bad.add(id);
          } else {
            expect(result).toEqual(pristine.get(id));
          }
        }
        for (const [id, [, d]] of Object.entries(damages)) if (ALWAYS_BAD.has(d.kind)) expect(bad.has(id)).toBe(true);
        // One skipping epoch: exactly the bad objects are left out and listed.
        const lenient = await openModelNet40({ root, imageSize: SIZE, skipBadObjects: true });
        let delivered = 0;
        for await (const batch of lenient.test.batches({ batchSize: 4 })) {
          delivered += batch.size;
          batch.indices.forEach((index, k) => {
            const id = lenient.test.objects[index].id;
            batch.inputs.forEach((input, view) => expect(input.subarray(k * SIZE * SIZE * 3, (k + 1) * SIZE * SIZE * 3)).toEqual(pristine.get(id)![view]));
          });
        }
        expect(new Set(lenient.skipped.filter((s) => s.split === 'test').map((s) => s.id))).toEqual(bad);
        expect(delivered).toBe(ids.length - bad.size);
        await rm(root, { recursive: true, force: true });
      }),
      { numRuns: fileRuns() },
    );
  });
});

describe('ModelNet40 folder layouts', () => {
  const name = fc.oneof(
    fc.constantFrom(...CLASSES, 'desk', '.hidden', 'spaceship', 'train', 'Airplane'),
    fc.stringMatching(/^[a-z_]{1,8}$/),
  );
  const file = fc.oneof(
    fc
      .tuple(fc.constantFrom(...CLASSES, 'x'), fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 13 }))
      .map(([c, n, v]) => `${c}_${String(n).padStart(4, '0')}.obj.shaded_v${String(v).padStart(3, '0')}.png`),
    fc.constantFrom('readme.txt', 'bed_0001_v1.png', '.DS_Store', 'a.PNG', 'thumbs.db'),
  );
  const tree = fc.array(fc.record({ folder: name, split: fc.constantFrom('train', 'test', 'val', ''), files: fc.array(file, { maxLength: 30 }) }), { maxLength: 5 });

  it('any tree of folders and file names: a ModelNet40Error naming the folder or file, or splits of complete objects', async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(tree, fc.boolean(), async (layout, skipBadObjects) => {
        const root = join(base, `layout-${run++}`);
        await mkdir(root, { recursive: true });
        for (const { folder, split, files } of layout) {
          const dir = join(root, folder, split);
          await mkdir(dir, { recursive: true });
          for (const f of files) await writeFile(join(dir, f), '');
        }
        try {
          const dataset = await openModelNet40({ root, skipBadObjects, classes: MODELNET40_CLASSES, validationFraction: 0.5 });
          for (const split of [dataset.train, dataset.validation, dataset.test]) {
            expect(split.size).toBeGreaterThan(0);
            for (const object of split.objects) {
              expect(object.viewPaths).toHaveLength(2);
              expect(MODELNET40_CLASSES[object.label]).toBe(object.className);
              expect(object.viewPaths.every((p) => p.includes(`${object.id}.obj.shaded_v`))).toBe(true);
            }
          }
        } catch (error) {
          if (!(error instanceof ModelNet40Error)) throw error;
          expect(error.message).toMatch(/unknown class folder|no class folders|split is empty|unexpected file name|view number|missing view/);
        } finally {
          await rm(root, { recursive: true, force: true });
        }
      }),
      { numRuns: Math.max(10, Math.round(fc.readConfigureGlobal().numRuns! / 4)) },
    );
  });
});
