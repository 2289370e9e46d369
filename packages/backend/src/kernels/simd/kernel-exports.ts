/**
 * Every function csrc/kernels.c exports, with its parameters in C order: the one place the
 * TypeScript side learns a kernel's signature. Call sites pass named arguments
 * (`module.call('unary', { op, x, out, begin, end })`, or for a split call the arguments all
 * parts share plus each part's own: `module.split('unary', parts, { op, x, out }, (part) =>
 * ({ begin, end }))`), turned here into the positional int32 list wasm takes, in this order.
 *
 * Adding an export: write the `EXPORT(name)` function in csrc/kernels.c, add one entry here
 * with the same parameter names, order and C types, then `pnpm --filter @mm/backend build:wasm`.
 * kernel-exports.test.ts parses kernels.c and the compiled wasm and fails on any mismatch.
 *
 * Pointers are byte offsets into tfjs-backend-wasm's heap (a tensor's via `heapByteOffset`);
 * a pointer the C comment calls optional ("bias may be 0") takes 0 for absent. Flags are 0 / 1.
 */
export const KERNEL_EXPORTS = {
  pack_filter: { w: 'const float*', packed: 'float*', KH: 'int', KW: 'int', Ci: 'int', Co: 'int', rotate: 'int' },
  conv2d: {
    x: 'const float*', packed: 'const float*', bias: 'const float*', out: 'float*', zeros: 'const float*', ptrs: 'const float**',
    H: 'int', W: 'int', Ci: 'int', OH: 'int', OW: 'int', Co: 'int', KH: 'int', KW: 'int',
    sh: 'int', sw: 'int', dh: 'int', dw: 'int', pt: 'int', pl: 'int', relu: 'int', p0: 'int', p1: 'int',
  },
  conv2d_filter_grad: {
    x: 'const float*', dy: 'const float*', dwOut: 'float*',
    N: 'int', H: 'int', W: 'int', Ci: 'int', OH: 'int', OW: 'int', Co: 'int', KH: 'int', KW: 'int',
    sh: 'int', sw: 'int', dh: 'int', dw: 'int', pt: 'int', pl: 'int', chunkN: 'int', t0: 'int', t1: 'int',
  },
  max_pool_2x2_grad: {
    x: 'const float*', dy: 'const float*', dx: 'float*', H: 'int', W: 'int', C: 'int', OH: 'int', OW: 'int', r0: 'int', r1: 'int',
  },
  binary_same: { op: 'int', a: 'const float*', b: 'const float*', out: 'float*', begin: 'int', end: 'int' },
  binary_rows: {
    op: 'int', a: 'const float*', aOuter: 'int', aMid: 'int', b: 'const float*', bOuter: 'int', bMid: 'int', out: 'float*',
    mid: 'int', C: 'int', r0: 'int', r1: 'int',
  },
  unary: { op: 'int', x: 'const float*', out: 'float*', begin: 'int', end: 'int' },
  sum_middle: {
    x: 'const float*', other: 'const float*', center: 'const float*', out: 'float*',
    reduce: 'int', inner: 'int', o0: 'int', o1: 'int', rStart: 'int', rEnd: 'int',
  },
  scale_shift_rows: { x: 'const float*', a: 'const float*', b: 'const float*', out: 'float*', C: 'int', r0: 'int', r1: 'int' },
  to_channel_major: { x: 'const float*', xT: 'float*', N: 'int', HW: 'int', Ci: 'int', hw0: 'int', hw1: 'int' },
  pack_rows_as_filter: { dy: 'const float*', packed: 'float*', N: 'int', S: 'int', Co: 'int', s0: 'int', s1: 'int' },
  winograd_filter: { w: 'const float*', packed: 'float*', Ci: 'int', Co: 'int', rotate: 'int' },
  winograd_input: {
    x: 'const float*', V: 'float*', H: 'int', W: 'int', C: 'int', TH: 'int', TW: 'int', T: 'int', pt: 'int', pl: 'int', t0: 'int', t1: 'int',
  },
  winograd_output: {
    M: 'const float*', bias: 'const float*', y: 'float*', OH: 'int', OW: 'int', Co: 'int', TH: 'int', TW: 'int', T: 'int',
    relu: 'int', t0: 'int', t1: 'int',
  },
  pack_matrix: { b: 'const float*', packed: 'float*', K: 'int', N: 'int', transposed: 'int' },
  transpose_2d: { src: 'const float*', dst: 'float*', rows: 'int', cols: 'int', r0: 'int', r1: 'int' },
  momentum_update: { table: 'const int*', entries: 'int', nesterov: 'int', begin: 'int', end: 'int' },
  relu_grad: { dy: 'const float*', x: 'const float*', dx: 'float*', begin: 'int', end: 'int' },
} as const;

/** The C parameter types kernels.c uses (all int32 on the wasm side). */
export type CParameterType = 'int' | 'float*' | 'const float*' | 'const float**' | 'const int*';

export type KernelExport = keyof typeof KERNEL_EXPORTS;

/** A kernel's arguments by parameter name; every one an int32 (byte offset, size, index or flag). */
export type KernelArgs<N extends KernelExport> = { readonly [P in keyof (typeof KERNEL_EXPORTS)[N]]: number };

/** The parameters of `N` a split call's parts set one by one; the others are shared by every part. */
export type PartArgs<N extends KernelExport, K extends keyof KernelArgs<N>> = Pick<KernelArgs<N>, K>;
export type SharedArgs<N extends KernelExport, K extends keyof KernelArgs<N>> = Omit<KernelArgs<N>, K>;

/** Export names in table order: the index a pool thread looks a function up by. */
export const KERNEL_EXPORT_NAMES = Object.keys(KERNEL_EXPORTS) as KernelExport[];

const parameterOrder = new Map<string, readonly string[]>(
  Object.entries(KERNEL_EXPORTS).map(([name, parameters]) => [name, Object.keys(parameters)]),
);
const parameterIndex = new Map<string, ReadonlyMap<string, number>>(
  [...parameterOrder].map(([name, parameters]) => [name, new Map(parameters.map((parameter, i) => [parameter, i]))]),
);

/** The parameter names of `name`, in C order. */
export function parameterNames(name: KernelExport): readonly string[] {
  const names = parameterOrder.get(name);
  if (names === undefined) throw new Error(`kernels.c exports no function '${name}' (see KERNEL_EXPORTS in kernel-exports.ts)`);
  return names;
}

// Wasm would silently turn undefined / NaN into 0 and a fraction into its floor, i.e. a kernel
// reading the wrong memory: every argument is checked to be an integer, naming the parameter.
function checked(name: string, parameter: string, value: number | undefined): number {
  if (!Number.isInteger(value)) {
    throw new Error(`${name}: argument '${parameter}' must be an integer (byte offset, size or flag), got ${String(value)}`);
  }
  return value as number;
}

/** Named arguments → the positional list wasm takes. Throws, naming the parameter, when one is missing or not an integer. */
export function argumentList<N extends KernelExport>(name: N, args: KernelArgs<N>): number[] {
  const names = parameterNames(name);
  const values = args as Readonly<Record<string, number>>;
  const list = new Array<number>(names.length);
  for (let i = 0; i < names.length; i++) list[i] = checked(name, names[i], values[names[i]]);
  return list;
}

/**
 * The positional list of a split call, built once from the arguments every part shares; each
 * part's own arguments are then written into a copy (`withPartArguments`). Cheaper than one
 * object of all arguments per part: measured in Node 20 on a loaded 2-core machine (CPU time,
 * conv2d's 23 arguments), an object spread per part cost ≈ 15 µs, this ≈ 170 ns per part, the
 * positional arrays it replaced ≈ 60–120 ns.
 */
export function sharedArgumentList<N extends KernelExport>(name: N, shared: Partial<KernelArgs<N>>): number[] {
  const names = parameterNames(name);
  const values = shared as Readonly<Record<string, number | undefined>>;
  const list = new Array<number>(names.length);
  for (let i = 0; i < names.length; i++) {
    const value = values[names[i]];
    // NaN marks a parameter left to the parts; withPartArguments rejects it if no part sets it.
    list[i] = value === undefined ? Number.NaN : checked(name, names[i], value);
  }
  return list;
}

/** `base` (from sharedArgumentList) with one part's arguments written in; every parameter must then be set. */
export function withPartArguments<N extends KernelExport>(name: N, base: readonly number[], part: Partial<KernelArgs<N>>): number[] {
  const index = parameterIndex.get(name)!;
  const list = base.slice();
  const values = part as Readonly<Record<string, number>>;
  for (const parameter in values) {
    const at = index.get(parameter);
    if (at === undefined) throw new Error(`${name} has no parameter '${parameter}' (see KERNEL_EXPORTS in kernel-exports.ts)`);
    list[at] = checked(name, parameter, values[parameter]);
  }
  for (let i = 0; i < list.length; i++) {
    if (Number.isNaN(list[i])) checked(name, parameterNames(name)[i], undefined);
  }
  return list;
}
