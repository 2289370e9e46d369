// Everything @mm/models offers in any JavaScript runtime; index.ts adds the file reader for Node.
export { countParams } from './count-params.js';
export * from './resnet18/index.js';
export * from './weights/index.js';
export * from './i3d/index.js';
export * from './cg-mnist/index.js';
