import { describe, expect, it } from 'vitest';
import {
  channelsFirstToLast,
  channelsLastToFirst,
  tfjsToTorch,
  torchShapeOf,
  torchToTfjs,
  transposeArray,
} from './layout.js';
import { encodeSafetensors, parseSafetensors, SafetensorsFormatError } from './safetensors.js';

const iota = (n: number) => Float32Array.from({ length: n }, (_, i) => i);

/** Value at a multi-index of a row-major array. */
function at(shape: readonly number[], data: Float32Array, index: readonly number[]): number {
  let flat = 0;
  for (let i = 0; i < shape.length; i++) flat = flat * shape[i] + index[i];
  return data[flat];
}

/** A safetensors file written by hand, as the Python writer does it. */
function handWritten(header: object, body: Uint8Array): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + body.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  out.set(body, 8 + json.length);
  return out;
}

describe('layout', () => {
  it('moves OIHW to HWIO: kernel[h][w][i][o] = torch[o][i][h][w]', () => {
    const torch = { shape: [4, 3, 2, 5], data: iota(4 * 3 * 2 * 5) };
    const tf = torchToTfjs(torch, 'conv2d');
    expect(tf.shape).toEqual([2, 5, 3, 4]);
    for (const [o, i, h, w] of [
      [0, 0, 0, 0],
      [3, 2, 1, 4],
      [1, 2, 0, 3],
    ]) {
      expect(at(tf.shape, tf.data, [h, w, i, o])).toBe(at(torch.shape, torch.data, [o, i, h, w]));
    }
    expect(tfjsToTorch(tf, 'conv2d')).toEqual(torch);
  });

  it('moves OIDHW to DHWIO and transposes Linear', () => {
    const torch = { shape: [2, 3, 4, 2, 3], data: iota(2 * 3 * 4 * 2 * 3) };
    const tf = torchToTfjs(torch, 'conv3d');
    expect(tf.shape).toEqual([4, 2, 3, 3, 2]);
    expect(at(tf.shape, tf.data, [3, 1, 2, 2, 1])).toBe(at(torch.shape, torch.data, [1, 2, 3, 1, 2]));
    expect(tfjsToTorch(tf, 'conv3d')).toEqual(torch);
    expect(torchShapeOf(tf.shape, 'conv3d')).toEqual(torch.shape);

    const linear = { shape: [3, 5], data: iota(15) };
    const kernel = torchToTfjs(linear, 'linear');
    expect(kernel.shape).toEqual([5, 3]);
    expect(at(kernel.shape, kernel.data, [4, 2])).toBe(at(linear.shape, linear.data, [2, 4]));
  });

  it('moves activations between channels-first and channels-last', () => {
    const nchw = { shape: [2, 3, 4, 5], data: iota(120) };
    const nhwc = channelsFirstToLast(nchw);
    expect(nhwc.shape).toEqual([2, 4, 5, 3]);
    expect(at(nhwc.shape, nhwc.data, [1, 3, 2, 1])).toBe(at(nchw.shape, nchw.data, [1, 1, 3, 2]));
    expect(channelsLastToFirst(nhwc)).toEqual(nchw);
    const ncdhw = { shape: [1, 2, 3, 2, 2], data: iota(24) };
    expect(channelsLastToFirst(channelsFirstToLast(ncdhw))).toEqual(ncdhw);
  });

  it('rejects a non-permutation', () => {
    expect(() => transposeArray({ shape: [2, 2], data: iota(4) }, [0, 0])).toThrow(/not a permutation/);
  });
});

describe('safetensors', () => {
  it('round-trips float32 tensors and metadata', () => {
    const bytes = encodeSafetensors(
      { a: { shape: [2, 3], data: iota(6) }, 'b.weight': { shape: [], data: new Float32Array([1.5]) } },
      { format: 'pt' },
    );
    const file = parseSafetensors(bytes);
    expect(file.metadata).toEqual({ format: 'pt' });
    expect(file.tensors.get('a')?.shape).toEqual([2, 3]);
    expect(Array.from(file.tensors.get('a')?.toFloat32() ?? [])).toEqual(Array.from(iota(6)));
    expect(Array.from(file.tensors.get('b.weight')?.toFloat32() ?? [])).toEqual([1.5]);
  });

  it('converts F16, BF16, I64 and F64 values to float32', () => {
    const body = new Uint8Array(2 * 3 + 2 * 2 + 8 + 8);
    const view = new DataView(body.buffer);
    // F16: 1.0 = 0x3c00, -2.0 = 0xc000, 0.5 = 0x3800
    [0x3c00, 0xc000, 0x3800].forEach((h, i) => view.setUint16(2 * i, h, true));
    // BF16: 1.0 = 0x3f80, -0.5 = 0xbf00
    [0x3f80, 0xbf00].forEach((h, i) => view.setUint16(6 + 2 * i, h, true));
    view.setBigInt64(10, 42n, true);
    view.setFloat64(18, 0.25, true);
    const file = parseSafetensors(
      handWritten(
        {
          half: { dtype: 'F16', shape: [3], data_offsets: [0, 6] },
          brain: { dtype: 'BF16', shape: [2], data_offsets: [6, 10] },
          count: { dtype: 'I64', shape: [], data_offsets: [10, 18] },
          double: { dtype: 'F64', shape: [1], data_offsets: [18, 26] },
        },
        body,
      ),
    );
    expect(Array.from(file.tensors.get('half')?.toFloat32() ?? [])).toEqual([1, -2, 0.5]);
    expect(Array.from(file.tensors.get('brain')?.toFloat32() ?? [])).toEqual([1, -0.5]);
    expect(Array.from(file.tensors.get('count')?.toFloat32() ?? [])).toEqual([42]);
    expect(Array.from(file.tensors.get('double')?.toFloat32() ?? [])).toEqual([0.25]);
  });

  it('names the source and the problem for malformed files', () => {
    expect(() => parseSafetensors(new Uint8Array(3), 'tiny.safetensors')).toThrow(/tiny\.safetensors.*8-byte/);
    const good = encodeSafetensors({ a: { shape: [4], data: iota(4) } });
    expect(() => parseSafetensors(good.subarray(0, good.length - 4), 'cut.safetensors')).toThrow(/cut\.safetensors.*'a'.*truncated/);
    const huge = new Uint8Array(16);
    new DataView(huge.buffer).setBigUint64(0, 1000n, true);
    expect(() => parseSafetensors(huge, 'x')).toThrow(SafetensorsFormatError);
    expect(() => parseSafetensors(handWritten({ a: { dtype: 'C64', shape: [1], data_offsets: [0, 8] } }, new Uint8Array(8)))).toThrow(
      /unsupported dtype "C64"/,
    );
    expect(() => parseSafetensors(handWritten({ a: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, new Uint8Array(8)))).toThrow(
      /needs 12 bytes, its offsets give 8/,
    );
  });
});
