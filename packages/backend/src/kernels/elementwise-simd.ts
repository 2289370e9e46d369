import {
  Add,
  backend_util,
  Multiply,
  Square,
  Step,
  Sub,
  util,
  type KernelConfig,
  type KernelFunc,
  type TensorInfo,
} from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { chunkCount, partOf, simdModuleFor, type SimdModule } from './simd/simd-module.js';
import type { SharedArgs } from './simd/kernel-exports.js';
import { binaryPath, ELEMENTWISE_THRESHOLDS, unaryPath } from './kernel-paths.js';
import { heapByteOffset } from './wasm-util.js';
import { runStockWasmKernel } from './stock-kernels.js';

/**
 * Add, Sub, Multiply, Square and Step on full-size float32 activations through the kernel
 * module (SIMD, split across the wasm threads). Stock tfjs-backend-wasm 4.22 runs them on one
 * thread, and broadcasting a channel vector over an activation (batch norm, bias and MMTM
 * gating, forward and backward) goes through a scalar index loop about 4× slower than the
 * same-shape op. Small tensors stay on the stock kernels (binaryPath / unaryPath in kernel-paths.ts).
 */

const OPS = { [Add]: 0, [Sub]: 1, [Multiply]: 2 } as Record<string, number>;

/** How one operand's rows start in the output's [outer, mid, C] view (strides in floats). */
interface OperandRows {
  outer: number;
  mid: number;
}

/**
 * The row plan of a broadcast to `outShape`: the output viewed as [outer, mid, C] (C its last axis), each
 * operand full, [outer, 1, …, 1, C] or a channel vector [1, …, 1, C]. Null for anything else
 * (the stock kernel broadcasts it).
 */
export function broadcastRows(
  aShape: number[],
  bShape: number[],
  outShape: number[],
): { outer: number; mid: number; channels: number; a: OperandRows; b: OperandRows } | null {
  const rank = outShape.length;
  if (rank < 2) return null;
  const channels = outShape[rank - 1];
  const outer = outShape[0];
  const mid = util.sizeFromShape(outShape.slice(1, rank - 1));
  const rowsOf = (shape: number[]): OperandRows | null => {
    const padded = [...new Array(rank - shape.length).fill(1), ...shape];
    if (padded[rank - 1] !== channels) return null;
    const leading = padded.slice(0, rank - 1);
    if (leading.every((d, i) => d === outShape[i])) return { outer: mid * channels, mid: channels };
    if (leading.every((d) => d === 1)) return { outer: 0, mid: 0 };
    if (leading[0] === outer && leading.slice(1).every((d) => d === 1)) return { outer: channels, mid: 0 };
    return null;
  };
  const a = rowsOf(aShape);
  const b = rowsOf(bShape);
  return a === null || b === null ? null : { outer, mid, channels, a, b };
}

/** Runs `name` over [0, size) split into ranges [begin, end) of whole 16-float (64-byte) blocks. */
function splitFlat<N extends 'binary_same' | 'unary'>(module: SimdModule, size: number, name: N, shared: SharedArgs<N, 'begin' | 'end'>): void {
  const parts = chunkCount(module, size, ELEMENTWISE_THRESHOLDS.minValuesPerChunk);
  module.split(name, parts, shared, (part) => {
    const [begin, end] = partOf(size, parts, part, 16);
    return { begin, end };
  });
}

function makeBinary(kernelName: string): KernelFunc {
  const op = OPS[kernelName];
  return ({ inputs, backend, attrs }) => {
    const wasm = backend as BackendWasm;
    const { a, b } = inputs as { a: TensorInfo; b: TensorInfo };
    const float32 = a.dtype === 'float32' && b.dtype === 'float32';
    const module = float32 ? simdModuleFor(wasm) : null;
    if (module !== null) {
      const sameShape = util.arraysEqual(a.shape, b.shape);
      const outShape = sameShape ? a.shape : backend_util.assertAndGetBroadcastShape(a.shape, b.shape);
      const plan = sameShape ? null : broadcastRows(a.shape, b.shape, outShape);
      const size = util.sizeFromShape(outShape);
      const path = binaryPath({ float32, module: true, size, sameShape, broadcastChannels: plan?.channels ?? null });
      if (path !== 'stock') {
        const out = wasm.makeOutput(outShape, 'float32');
        if (path === 'module-flat') {
          splitFlat(module, size, 'binary_same', { op, a: heapByteOffset(wasm, a), b: heapByteOffset(wasm, b), out: heapByteOffset(wasm, out) });
        } else {
          const { outer, mid, channels, a: ra, b: rb } = plan!;
          const rows = outer * mid;
          const parts = chunkCount(module, rows, Math.ceil(ELEMENTWISE_THRESHOLDS.minValuesPerChunk / channels));
          const shared = {
            op, a: heapByteOffset(wasm, a), aOuter: ra.outer, aMid: ra.mid, b: heapByteOffset(wasm, b), bOuter: rb.outer, bMid: rb.mid,
            out: heapByteOffset(wasm, out), mid, C: channels,
          };
          module.split('binary_rows', parts, shared, (part) => {
            const [r0, r1] = partOf(rows, parts, part);
            return { r0, r1 };
          });
        }
        return out;
      }
    }
    return runStockWasmKernel(wasm, kernelName, inputs, attrs);
  };
}

function makeUnary(kernelName: string, op: number, applies: (attrs: Record<string, unknown>) => boolean): KernelFunc {
  return ({ inputs, backend, attrs }) => {
    const wasm = backend as BackendWasm;
    const { x } = inputs as { x: TensorInfo };
    const size = util.sizeFromShape(x.shape);
    const float32 = x.dtype === 'float32';
    const attrsSupported = applies(attrs as Record<string, unknown>);
    const module = float32 && size >= ELEMENTWISE_THRESHOLDS.minSize && attrsSupported ? simdModuleFor(wasm) : null;
    if (unaryPath({ float32, module: module !== null, size, attrsSupported }) === 'stock') return runStockWasmKernel(wasm, kernelName, inputs, attrs);
    const out = wasm.makeOutput(x.shape, 'float32');
    splitFlat(module!, size, 'unary', { op, x: heapByteOffset(wasm, x), out: heapByteOffset(wasm, out) });
    return out;
  };
}

export const addWasmConfig: KernelConfig = { kernelName: Add, backendName: 'wasm', kernelFunc: makeBinary(Add) };
export const subWasmConfig: KernelConfig = { kernelName: Sub, backendName: 'wasm', kernelFunc: makeBinary(Sub) };
export const multiplyWasmConfig: KernelConfig = { kernelName: Multiply, backendName: 'wasm', kernelFunc: makeBinary(Multiply) };
export const squareWasmConfig: KernelConfig = { kernelName: Square, backendName: 'wasm', kernelFunc: makeUnary(Square, 0, () => true) };
// tfjs's ReLU gradient uses Step with alpha 0; other alphas stay on the stock kernel.
export const stepWasmConfig: KernelConfig = {
  kernelName: Step,
  backendName: 'wasm',
  kernelFunc: makeUnary(Step, 1, (attrs) => (attrs.alpha ?? 0) === 0),
};
