export { countParams } from './count-params.js';
