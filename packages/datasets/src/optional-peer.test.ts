import { describe, expect, it } from 'vitest';
import { importOptionalPeer, loadSharp } from './optional-peer.js';

const MISSING = 'mm-datasets-no-such-package';

describe('optional peer dependencies', () => {
  it('a missing package: says what needs it and how to install it', async () => {
    const error = await importOptionalPeer(MISSING, 'Frobnicating is done', () => import(MISSING as string)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toBe(
      `Frobnicating is done with ${MISSING}, which is not installed (an optional peer dependency of @mm/datasets): npm install ${MISSING}`,
    );
    expect((error as Error).cause).toBeInstanceOf(Error);
  });

  it('an installed package whose own dependency is missing is not called "not installed"', async () => {
    // The module-not-found error names another package, as when sharp is present but broken.
    const error = await importOptionalPeer('sharp', 'ModelNet40 views are decoded', () => import(MISSING as string)).catch((e: unknown) => e);
    expect((error as Error).message).toMatch(new RegExp(`^ModelNet40 views are decoded with sharp, which is installed but failed to load: Cannot find package '${MISSING}'`));
  });

  it('loads sharp when it is installed (it is a dev dependency here)', async () => {
    const sharp = await loadSharp('testing');
    const { info } = await sharp(Buffer.alloc(12, 7), { raw: { width: 2, height: 2, channels: 3 } }).png().toBuffer({ resolveWithObject: true });
    expect([info.width, info.height, info.format]).toEqual([2, 2, 'png']);
  });
});
