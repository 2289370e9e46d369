import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { KERNELS_WASM_SOURCE_HASH } from './kernels-wasm.generated.js';
import { chunkCount, createSimdModule, partOf } from './simd-module.js';
import { webAssembly } from './webassembly.js';

const PAGE = 65536;

/** A shared heap with a (values, values, out) layout of `count` floats each. */
function sharedHeap(count: number) {
  const bytes = count * 4;
  const memory = new webAssembly.Memory({ initial: Math.ceil((3 * bytes + 1024) / PAGE) + 1, maximum: 256, shared: true });
  const heap = new Float32Array(memory.buffer);
  const [a, b, out] = [1024, 1024 + bytes, 1024 + 2 * bytes];
  return { memory, heap, a, b, out };
}

/** The part arguments of binary_same: its range [begin, end). */
function range([begin, end]: [number, number]) {
  return { begin, end };
}

describe('kernel module build', () => {
  it('was built from the current csrc/kernels.c (rebuild: pnpm --filter @mm/backend build:wasm)', () => {
    const source = readFileSync(new URL('../../../csrc/kernels.c', import.meta.url));
    expect(createHash('sha256').update(source).digest('hex').slice(0, 16)).toBe(KERNELS_WASM_SOURCE_HASH);
  });
});

describe('kernel module pool (2 threads on a shared heap)', () => {
  it('runs every chunk exactly once, call after call (no chunk lost or run twice across jobs)', () => {
    const count = 50_000;
    const { memory, heap, a, b, out } = sharedHeap(count);
    const module = createSimdModule(memory, { threads: 2 });
    expect(module.threads).toBe(2);
    const parts = chunkCount(module, count, 1000);
    expect(parts).toBe(8);
    for (let i = 0; i < count; i++) {
      heap[a / 4 + i] = i;
      heap[b / 4 + i] = 1;
    }
    for (let round = 0; round < 200; round++) {
      heap.fill(-1, out / 4, out / 4 + count);
      // Op 0 is add: out = a + b, chunk by chunk; a chunk run twice or never shows as −1 or a wrong sum.
      module.split('binary_same', parts, { op: 0, a, b, out }, (part) => range(partOf(count, parts, part, 16)));
      let wrong = 0;
      for (let i = 0; i < count; i++) if (heap[out / 4 + i] !== i + 1) wrong++;
      expect(wrong).toBe(0);
    }
  });

  it('reports a trap in any chunk as an error and keeps working afterwards', () => {
    const count = 4096;
    const { memory, heap, a, b, out } = sharedHeap(count);
    const module = createSimdModule(memory, { threads: 2 });
    const beyond = memory.buffer.byteLength + PAGE;
    // Every other chunk reads past the end of memory.
    expect(() =>
      module.split('binary_same', 8, { op: 0, b, out }, (part) => ({ a: part % 2 === 0 ? a : beyond, ...range(partOf(count, 8, part, 16)) })),
    ).toThrow(/out of bounds|failed on a @mm\/backend pool thread/);
    heap.fill(2, a / 4, a / 4 + count);
    heap.fill(3, b / 4, b / 4 + count);
    module.split('binary_same', 8, { op: 2, a, b, out }, (part) => range(partOf(count, 8, part, 16)));
    expect(heap.subarray(out / 4, out / 4 + count).every((v) => v === 6)).toBe(true);
  });

  it('runs on the calling thread alone over private (unshared) memory', () => {
    const memory = new webAssembly.Memory({ initial: 2 });
    const module = createSimdModule(memory, { threads: 4 });
    expect(module.threads).toBe(1);
    expect(chunkCount(module, 1_000_000)).toBe(1);
  });
});
