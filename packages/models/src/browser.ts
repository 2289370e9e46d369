// The browser build of @mm/models (the `browser` export condition): every model and the weight
// import, without the file reader (fetch the bytes and call `parseSafetensors`).
export * from './portable.js';
