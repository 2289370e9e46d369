export * from './portable.js';
export { readSafetensorsFile } from './weights/safetensors-file.js';
