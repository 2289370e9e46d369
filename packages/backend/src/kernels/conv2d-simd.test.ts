import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import '@tensorflow/tfjs-layers';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { beforeAll, describe, expect, it } from 'vitest';
import { registerWasmTrainingKernels } from './register-wasm.js';
import { createSimdModule, relaxedSimdAvailable, simdModuleFor } from './simd/simd-module.js';
import { webAssembly } from './simd/webassembly.js';
import { convOutputShape, randomValues, relativeError, runKernelOn, size, type ConvCase, type KernelCall } from './test-values.js';

/** |wasm − reference| ≤ 1e-4 · max(1, max|reference|), as for the other kernels. */
const RELATIVE_TOLERANCE = 1e-4;

/**
 * Cases the convolution module takes (output channels a multiple of 8): channel tails of the
 * 4-channel filter-gradient tiles, pixel counts that leave a partial 4-pixel tile, strides,
 * dilation, every padding kind, 1×1 and even filters.
 */
const MODULE_CASES: (ConvCase & { dilations?: number })[] = [
  { name: '3x3 same, 64 → 128 on 7×7 (the benchmark block 4)', x: [3, 7, 7, 64], filter: [3, 3, 64, 128], strides: 1, pad: 'same' },
  { name: '3x3 same, 3 → 16 (first layer, channel tail 3)', x: [2, 10, 9, 3], filter: [3, 3, 3, 16], strides: 1, pad: 'same' },
  { name: '3x3 same, 1 → 8, 3 partial-tile pixels', x: [1, 5, 3, 1], filter: [3, 3, 1, 8], strides: 1, pad: 'same' },
  { name: '3x3 valid, 5 → 24', x: [2, 8, 7, 5], filter: [3, 3, 5, 24], strides: 1, pad: 'valid' },
  { name: '3x3 same stride 2, 8 → 16, odd size', x: [2, 9, 11, 8], filter: [3, 3, 8, 16], strides: 2, pad: 'same' },
  { name: '7x7 stride 2 stem, 3 → 8', x: [1, 17, 15, 3], filter: [7, 7, 3, 8], strides: 2, pad: 'same' },
  { name: '1x1 stride 2 projection, 16 → 32', x: [2, 8, 8, 16], filter: [1, 1, 16, 32], strides: 2, pad: 'valid' },
  { name: 'even 4x4 filter same, 8 → 8', x: [2, 6, 6, 8], filter: [4, 4, 8, 8], strides: 1, pad: 'same' },
  { name: 'non-square filter and strides, 6 → 16', x: [2, 10, 7, 6], filter: [2, 3, 6, 16], strides: [2, 1], pad: 'same' },
  { name: 'explicit asymmetric padding, 8 → 8', x: [2, 6, 5, 8], filter: [3, 3, 8, 8], strides: 1, pad: [[0, 0], [1, 2], [0, 1], [0, 0]] },
  { name: 'numeric padding with ceil rounding, 2 → 8', x: [1, 8, 8, 2], filter: [3, 3, 2, 8], strides: 2, pad: 1, dimRoundingMode: 'ceil' },
  { name: 'Winograd: 3x3 valid, 64 → 8, odd 9×7 (partial 2×2 tiles)', x: [2, 9, 7, 64], filter: [3, 3, 64, 8], strides: 1, pad: 'valid' },
  { name: 'Winograd forward: 3x3 same, 68 → 72 on 5×6', x: [3, 5, 6, 68], filter: [3, 3, 68, 72], strides: 1, pad: 'same' },
  { name: 'Winograd: explicit asymmetric padding, 64 → 64', x: [1, 6, 5, 64], filter: [3, 3, 64, 64], strides: 1, pad: [[0, 0], [2, 0], [0, 1], [0, 0]] },
  { name: 'dilation 2, 8 → 8', x: [2, 9, 9, 8], filter: [3, 3, 8, 8], strides: 1, pad: 'same', dilations: 2 },
];

function conv2dInfo(c: ConvCase & { dilations?: number }) {
  return tf.backend_util.computeConv2DInfo(c.x, c.filter, c.strides, c.dilations ?? 1, c.pad as never, c.dimRoundingMode, false, 'channelsLast');
}

/** Float64 reference: the forward convolution, and dW of dy. */
function referenceConv(c: ConvCase & { dilations?: number }, x: Float32Array, w: Float32Array, dy: Float32Array) {
  const info = conv2dInfo(c);
  const { batchSize: N, inHeight: H, inWidth: W, inChannels: Ci, outHeight: OH, outWidth: OW, outChannels: Co } = info;
  const { filterHeight: KH, filterWidth: KW, strideHeight: sh, strideWidth: sw, dilationHeight: dh, dilationWidth: dw } = info;
  const y = new Float64Array(N * OH * OW * Co);
  const dW = new Float64Array(KH * KW * Ci * Co);
  for (let n = 0; n < N; n++)
    for (let oh = 0; oh < OH; oh++)
      for (let ow = 0; ow < OW; ow++)
        for (let kh = 0; kh < KH; kh++)
          for (let kw = 0; kw < KW; kw++) {
            const ih = oh * sh + kh * dh - info.padInfo.top;
            const iw = ow * sw + kw * dw - info.padInfo.left;
            if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
            for (let ci = 0; ci < Ci; ci++) {
              const xv = x[((n * H + ih) * W + iw) * Ci + ci];
              for (let co = 0; co < Co; co++) {
                const p = ((n * OH + oh) * OW + ow) * Co + co;
                const k = ((kh * KW + kw) * Ci + ci) * Co + co;
                y[p] += xv * w[k];
                dW[k] += xv * dy[p];
              }
            }
          }
  return { info, y: Float32Array.from(y), dW: Float32Array.from(dW) };
}

describe('convolution module (csrc/kernels.c), both builds, against a float64 reference', () => {
  it('relaxed SIMD is available on this engine (Node 20 behind a flag the module sets)', () => {
    expect(relaxedSimdAvailable()).toBe(true);
  });

  for (const relaxed of [true, false]) {
    describe(relaxed ? 'relaxed-SIMD build (FMA)' : 'plain-SIMD build', () => {
      for (const [i, c] of MODULE_CASES.entries()) {
        it(c.name, () => {
          const x = randomValues(size(c.x), 10 + i);
          const w = randomValues(size(c.filter), 50 + i);
          const dy = randomValues(size(convOutputShape(c)), 90 + i);
          const { info, y, dW } = referenceConv(c, x, w, dy);
          const taps = info.filterHeight * info.filterWidth;
          // Heap layout: x | w | packed w | y | dW | dy | zeros | pointer scratch, 64-byte aligned.
          const sizes = [x.length, w.length, w.length, y.length, dW.length, dy.length, info.inChannels, taps * 4];
          const offsets: number[] = [];
          let end = 1024;
          for (const s of sizes) {
            offsets.push(end);
            end += Math.ceil((s * 4) / 64) * 64 + 64;
          }
          const memory = new webAssembly.Memory({ initial: Math.ceil(end / 65536) + 1 });
          const heap = new Float32Array(memory.buffer);
          const [xAt, wAt, packedAt, yAt, dWAt, dyAt, zerosAt, ptrsAt] = offsets;
          heap.set(x, xAt / 4);
          heap.set(w, wAt / 4);
          heap.set(dy, dyAt / 4);
          const module = createSimdModule(memory, { relaxed });
          expect(module.relaxed).toBe(relaxed);
          const { inHeight, inWidth, inChannels, outHeight, outWidth, outChannels, filterHeight, filterWidth } = info;
          const geometry = {
            H: inHeight, W: inWidth, Ci: inChannels, OH: outHeight, OW: outWidth, Co: outChannels, KH: filterHeight, KW: filterWidth,
            sh: info.strideHeight, sw: info.strideWidth, dh: info.dilationHeight, dw: info.dilationWidth, pt: info.padInfo.top, pl: info.padInfo.left,
          };
          module.call('pack_filter', { w: wAt, packed: packedAt, KH: filterHeight, KW: filterWidth, Ci: inChannels, Co: outChannels, rotate: 0 });
          module.call('conv2d', {
            x: xAt, packed: packedAt, bias: 0, out: yAt, zeros: zerosAt, ptrs: ptrsAt, ...geometry, relu: 0,
            p0: 0, p1: info.batchSize * outHeight * outWidth,
          });
          expect(relativeError(heap.slice(yAt / 4, yAt / 4 + y.length), y)).toBeLessThanOrEqual(RELATIVE_TOLERANCE);
          const tiles = (outChannels / 8) * taps * Math.ceil(inChannels / 4);
          // Two calls over halves of the tiles, with chunks of one sample: the split the pool makes.
          for (const [t0, t1] of [[0, tiles >> 1], [tiles >> 1, tiles]]) {
            module.call('conv2d_filter_grad', { x: xAt, dy: dyAt, dwOut: dWAt, N: info.batchSize, ...geometry, chunkN: 1, t0, t1 });
          }
          expect(relativeError(heap.slice(dWAt / 4, dWAt / 4 + dW.length), dW)).toBeLessThanOrEqual(RELATIVE_TOLERANCE);
        });
      }
    });
  }
});

describe('Conv2D, FusedConv2D and both gradients through the module match the cpu backend', () => {
  beforeAll(async () => {
    await tf.setBackend('wasm');
    registerWasmTrainingKernels();
  });

  it('the module runs on the wasm backend, with relaxed SIMD', () => {
    const module = simdModuleFor(tf.backend() as BackendWasm);
    expect(module).not.toBeNull();
    expect(module!.relaxed).toBe(true);
  });

  async function expectMatchesCpu(call: KernelCall, seed: number): Promise<void> {
    const expected = await runKernelOn('cpu', call, seed);
    const actual = await runKernelOn('wasm', call, seed);
    expect(actual.shape).toEqual(expected.shape);
    expect(relativeError(actual.values, expected.values)).toBeLessThanOrEqual(RELATIVE_TOLERANCE);
  }

  for (const [i, c] of MODULE_CASES.entries()) {
    describe(c.name, () => {
      const attrs = { strides: c.strides, pad: c.pad, dataFormat: 'NHWC', dimRoundingMode: c.dimRoundingMode };
      const dilations = c.dilations ?? 1;
      it('Conv2D', () => expectMatchesCpu({ kernel: 'Conv2D', inputs: { x: c.x, filter: c.filter }, attrs: { ...attrs, dilations } }, 300 + i));
      it('FusedConv2D with bias and relu', () =>
        expectMatchesCpu(
          {
            kernel: 'FusedConv2D',
            inputs: { x: c.x, filter: c.filter, bias: [c.filter[3]] },
            attrs: { ...attrs, dilations, activation: 'relu' },
          },
          400 + i,
        ));
      // tfjs's gradient kernels take no dilation.
      if (dilations !== 1) return;
      it('Conv2DBackpropInput', () =>
        expectMatchesCpu({ kernel: 'Conv2DBackpropInput', inputs: { dy: convOutputShape(c), filter: c.filter }, attrs: { ...attrs, inputShape: c.x } }, 500 + i));
      it('Conv2DBackpropFilter', () =>
        expectMatchesCpu({ kernel: 'Conv2DBackpropFilter', inputs: { x: c.x, dy: convOutputShape(c) }, attrs: { ...attrs, filterShape: c.filter } }, 600 + i));
    });
  }

  it('frees its scratch buffers (no wasm allocation outlives a call)', () => {
    const backend = tf.backend() as unknown as { dataIdMap: { numDataIds(): number } };
    const [x, w, bias, dy] = [tf.randomNormal([2, 7, 7, 16]), tf.randomNormal([3, 3, 16, 8]), tf.randomNormal([8]), tf.randomNormal([2, 7, 7, 8])];
    const before = backend.dataIdMap.numDataIds();
    const run = () => {
      const outs = [
        tf.engine().runKernel('FusedConv2D', { x, filter: w, bias }, { strides: 1, pad: 'same', dataFormat: 'NHWC', dilations: 1, activation: 'relu' } as never),
        tf.engine().runKernel('Conv2DBackpropInput', { dy, filter: w }, { strides: 1, pad: 'same', dataFormat: 'NHWC', inputShape: x.shape } as never),
        tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, { strides: 1, pad: 'same', dataFormat: 'NHWC', filterShape: w.shape } as never),
      ] as tf.Tensor[];
      tf.dispose(outs);
    };
    run();
    run();
    expect(backend.dataIdMap.numDataIds()).toBe(before);
    tf.dispose([x, w, bias, dy]);
  });
});
