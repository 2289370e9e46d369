import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { argumentList, KERNEL_EXPORT_NAMES, KERNEL_EXPORTS, sharedArgumentList, withPartArguments, type CParameterType } from './kernel-exports.js';
import { KERNELS_WASM_BASE64 } from './kernels-wasm.generated.js';
import { relaxedSimdAvailable } from './simd-module.js';
import { webAssembly } from './webassembly.js';

interface CSignature {
  name: string;
  parameters: { name: string; type: string }[];
}

/** Every `EXPORT(name)` function of csrc/kernels.c: its name and its parameters in order. */
function exportedSignatures(source: string): CSignature[] {
  const withoutComments = source.replace(/\/\*[\s\S]*?\*\//g, ' ').replace(/\/\/[^\n]*/g, ' ');
  const signatures: CSignature[] = [];
  for (const match of withoutComments.matchAll(/EXPORT\((\w+)\)\s*void\s+(\w+)\s*\(([^)]*)\)/g)) {
    const [, exportName, functionName, list] = match;
    expect(functionName, `EXPORT(${exportName}) must name the function it precedes`).toBe(exportName);
    const parameters = list.split(',').map((raw) => {
      const parameter = raw.trim().replace(/\s+/g, ' ').replace(/\s*\*\s*/g, '* ').replace(/\* (?=\*)/g, '*');
      const at = parameter.search(/\w+$/);
      return { type: parameter.slice(0, at).trim(), name: parameter.slice(at) };
    });
    signatures.push({ name: exportName, parameters });
  }
  return signatures;
}

const source = readFileSync(new URL('../../../csrc/kernels.c', import.meta.url), 'utf8');
const signatures = exportedSignatures(source);

describe('kernel-exports.ts matches csrc/kernels.c', () => {
  it('finds every EXPORT( of the source (the parser itself misses none)', () => {
    const marks = source.replace(/\/\*[\s\S]*?\*\//g, ' ').match(/^EXPORT\(/gm) ?? [];
    expect(signatures.length).toBeGreaterThan(0);
    expect(signatures.length).toBe(marks.length);
  });

  it('declares the same exports, in source order', () => {
    expect(KERNEL_EXPORT_NAMES).toEqual(signatures.map((s) => s.name));
  });

  for (const signature of signatures) {
    it(`${signature.name}: same parameter names, order, count and C types`, () => {
      const declared = Object.entries(KERNEL_EXPORTS[signature.name as keyof typeof KERNEL_EXPORTS] ?? {});
      expect(declared.map(([name, type]) => ({ name, type }))).toEqual(signature.parameters);
      const known: readonly CParameterType[] = ['int', 'float*', 'const float*', 'const float**', 'const int*'];
      for (const { type } of signature.parameters) expect(known).toContain(type);
    });
  }
});

describe('the compiled module (kernels-wasm.generated.ts) exports what the table declares', () => {
  const variants = Object.keys(KERNELS_WASM_BASE64) as (keyof typeof KERNELS_WASM_BASE64)[];
  for (const variant of variants) {
    it(`${variant}: the same function names, each with the declared number of parameters`, () => {
      if (variant.startsWith('relaxed')) expect(relaxedSimdAvailable()).toBe(true);
      const bytes = Uint8Array.from(atob(KERNELS_WASM_BASE64[variant]), (c) => c.charCodeAt(0));
      const shared = variant.endsWith('Shared');
      const memory = new webAssembly.Memory(shared ? { initial: 2, maximum: 256, shared: true } : { initial: 2 });
      const { exports } = new webAssembly.Instance(new webAssembly.Module(bytes), { env: { memory } });
      const functions = Object.entries(exports).filter(([, value]) => typeof value === 'function');
      expect(functions.map(([name]) => name).sort()).toEqual([...KERNEL_EXPORT_NAMES].sort());
      for (const [name, fn] of functions) {
        // An exported wasm function's `length` is its parameter count.
        expect((fn as (...args: number[]) => void).length, name).toBe(Object.keys(KERNEL_EXPORTS[name as keyof typeof KERNEL_EXPORTS]).length);
      }
    });
  }
});

describe('argumentList', () => {
  it('orders named arguments as the C parameters', () => {
    expect(argumentList('unary', { end: 5, begin: 4, out: 3, x: 2, op: 1 })).toEqual([1, 2, 3, 4, 5]);
  });

  it('names a missing or non-integer argument instead of letting wasm read it as 0', () => {
    expect(() => argumentList('unary', { op: 0, x: 8, out: 16, begin: 0 } as never)).toThrow(/unary: argument 'end' must be an integer.*undefined/);
    expect(() => argumentList('unary', { op: 0, x: 8.5, out: 16, begin: 0, end: 4 })).toThrow(/argument 'x'/);
    expect(() => argumentList('nope' as never, {} as never)).toThrow(/exports no function 'nope'/);
  });
});

describe('split arguments (shared + per part)', () => {
  it('places shared and part arguments by name, leaving the shared list untouched', () => {
    const base = sharedArgumentList('unary', { out: 3, op: 1, x: 2 });
    expect(withPartArguments('unary', base, { end: 5, begin: 4 })).toEqual([1, 2, 3, 4, 5]);
    expect(withPartArguments('unary', base, { begin: 6, end: 7 })).toEqual([1, 2, 3, 6, 7]);
  });

  it('names a parameter that neither the shared nor the part arguments set, and one the kernel does not have', () => {
    const base = sharedArgumentList('unary', { op: 1, x: 2 });
    expect(() => withPartArguments('unary', base, { begin: 4, end: 5 })).toThrow(/unary: argument 'out' must be an integer.*undefined/);
    expect(() => withPartArguments('unary', sharedArgumentList('unary', { op: 1, x: 2, out: 3 }), { begin: 4, end: 5, stride: 1 } as never)).toThrow(
      /unary has no parameter 'stride'/,
    );
  });
});
