/**
 * Loads an optional peer dependency on first use, so installing and importing this package
 * never needs it. `load` is the literal `() => import('name')`, so that bundlers and
 * type-checkers still see the specifier.
 *
 * @param name the npm package, for the message
 * @param purpose what needs it, e.g. "ModelNet40 views are decoded": the message reads
 *   "ModelNet40 views are decoded with sharp, which is not installed …: npm install sharp"
 */
export async function importOptionalPeer<T>(name: string, purpose: string, load: () => Promise<T>): Promise<T> {
  try {
    return await load();
  } catch (error) {
    if (isNotFound(error, name)) {
      throw new Error(`${purpose} with ${name}, which is not installed (an optional peer dependency of @mm/datasets): npm install ${name}`, { cause: error });
    }
    const detail = error instanceof Error ? error.message.split('\n')[0] : String(error);
    throw new Error(`${purpose} with ${name}, which is installed but failed to load: ${detail}`, { cause: error });
  }
}

/** True when `name` itself is missing (not when it is installed but one of its own dependencies is). */
function isNotFound(error: unknown, name: string): boolean {
  const message = error instanceof Error ? error.message : String(error);
  return message.includes(`Cannot find package '${name}'`) || message.includes(`Cannot find module '${name}'`);
}

/** sharp's default export (libvips bindings). */
export type SharpFactory = typeof import('sharp').default;

/** sharp, loaded on first use (the module loader caches it). `purpose` names what needs it, for the error when it is missing. */
export async function loadSharp(purpose: string): Promise<SharpFactory> {
  return (await importOptionalPeer('sharp', purpose, () => import('sharp'))).default;
}
