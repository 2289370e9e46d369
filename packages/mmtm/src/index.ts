export { squeezeAxes } from './squeeze.js';
