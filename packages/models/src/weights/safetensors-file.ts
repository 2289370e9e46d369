import { readFile } from 'node:fs/promises';
import { parseSafetensors, type SafetensorsFile } from './safetensors.js';

/** Reads and parses a safetensors file (Node.js; in a browser, fetch the bytes and call `parseSafetensors`). */
export async function readSafetensorsFile(path: string): Promise<SafetensorsFile> {
  let data: Uint8Array;
  try {
    data = await readFile(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new Error(`cannot read safetensors file ${path}${code ? ` (${code})` : ''}: ${error instanceof Error ? error.message : String(error)}`);
  }
  return parseSafetensors(data, path);
}
