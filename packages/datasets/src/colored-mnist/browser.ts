// The browser build of `@mm/datasets/colored-mnist` (the `browser` export condition): MNIST
// over HTTP instead of from files, nothing that needs Node.js.
export * from './portable.js';
