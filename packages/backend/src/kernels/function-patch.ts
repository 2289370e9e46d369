/**
 * Replaces one function property of a tfjs-core object (its CommonJS exports, or the `fused`
 * namespace) and can put the original back. The faster gradient paths need this because
 * tfjs-layers calls those functions by name; where the object is frozen (ES-module bundles)
 * `install` reports false and tfjs keeps its own path.
 */
export class FunctionPatch<F extends (...args: never[]) => unknown> {
  private original: F | null = null;

  constructor(
    private readonly target: () => Record<string, unknown> | undefined,
    private readonly key: string,
    readonly replacement: F,
  ) {}

  /** The function the replacement delegates to: the original once installed. */
  get stock(): F {
    if (this.original === null) throw new Error(`${this.key}: the patch is not installed`);
    return this.original;
  }

  /** Installs the replacement (idempotent); false when the target cannot be changed. */
  install(): boolean {
    const target = this.target();
    if (target === undefined) return false;
    if (target[this.key] === this.replacement) return true;
    const original = target[this.key] as F;
    try {
      target[this.key] = this.replacement;
    } catch {
      return false;
    }
    if (target[this.key] !== this.replacement) return false;
    this.original = original;
    return true;
  }

  /** Puts the original back (if this patch is the one installed). */
  restore(): void {
    const target = this.target();
    if (target !== undefined && this.original !== null && target[this.key] === this.replacement) target[this.key] = this.original;
    this.original = null;
  }
}
