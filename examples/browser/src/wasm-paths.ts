// tfjs-backend-wasm's three binaries, emitted by Vite as assets; initBackend hands the map to
// setWasmPaths, which needs all three (it picks one by what the browser supports).
import plain from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm?url';
import simd from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm?url';
import threadedSimd from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-threaded-simd.wasm?url';
import type { WasmBinaryName } from '@mm/backend/browser';

export const WASM_PATHS: Record<WasmBinaryName, string> = {
  'tfjs-backend-wasm.wasm': plain,
  'tfjs-backend-wasm-simd.wasm': simd,
  'tfjs-backend-wasm-threaded-simd.wasm': threadedSimd,
};
