import * as tf from '@tensorflow/tfjs-core';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

export interface TensorEntry {
  name: string;
  shape: number[];
  dtype: 'float32' | 'int32';
}

/** Packs named tensors into one binary blob plus a manifest (order, shapes, dtypes). */
export function packTensors(named: { name: string; tensor: tf.Tensor }[]): { manifest: TensorEntry[]; data: Buffer } {
  const manifest: TensorEntry[] = [];
  const chunks: Buffer[] = [];
  for (const { name, tensor } of named) {
    const dtype = tensor.dtype === 'int32' ? 'int32' : 'float32';
    const values = dtype === 'int32' ? Int32Array.from(tensor.dataSync()) : Float32Array.from(tensor.dataSync());
    manifest.push({ name, shape: [...tensor.shape], dtype });
    chunks.push(Buffer.from(values.buffer, values.byteOffset, values.byteLength));
  }
  return { manifest, data: Buffer.concat(chunks) };
}

/** Inverse of packTensors; the caller owns (and disposes) the returned tensors. */
export function unpackTensors(manifest: TensorEntry[], data: Buffer, file: string): { name: string; tensor: tf.Tensor }[] {
  let offset = 0;
  const out = manifest.map((entry) => {
    const size = entry.shape.reduce((a, b) => a * b, 1);
    const bytes = size * 4;
    if (offset + bytes > data.length) {
      throw new Error(`${file} is truncated: tensor ${entry.name} needs bytes ${offset}..${offset + bytes}, the file has ${data.length}. Delete the checkpoint to start this run over.`);
    }
    const copy = new Uint8Array(data.subarray(offset, offset + bytes));
    offset += bytes;
    const values = entry.dtype === 'int32' ? new Int32Array(copy.buffer) : new Float32Array(copy.buffer);
    return { name: entry.name, tensor: tf.tensor(values, entry.shape, entry.dtype) };
  });
  if (offset !== data.length) throw new Error(`${file} has ${data.length - offset} unexpected trailing bytes; the checkpoint does not match its manifest.`);
  return out;
}

/**
 * Writes a directory of files atomically: everything goes to a sibling temporary folder, which
 * then replaces the old one by rename, so a crash leaves either the old or the new checkpoint.
 */
export function writeDirectoryAtomically(dir: string, files: Record<string, string | Buffer>): void {
  const parent = dirname(dir);
  mkdirSync(parent, { recursive: true });
  const tmp = `${dir}.tmp-${process.pid}`;
  const old = `${dir}.old-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp);
  for (const [name, content] of Object.entries(files)) writeFileSync(join(tmp, name), content);
  if (existsSync(dir)) renameSync(dir, old);
  renameSync(tmp, dir);
  rmSync(old, { recursive: true, force: true });
}

/** Writes one file atomically (temporary file + rename). */
export function writeFileAtomically(file: string, content: string | Buffer): void {
  mkdirSync(dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, content);
  renameSync(tmp, file);
}

export function readJson<T>(file: string): T {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as T;
  } catch (error) {
    throw new Error(`cannot read ${file}: ${(error as Error).message}`);
  }
}
