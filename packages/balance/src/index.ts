export { REGULAR, type StepKind } from './scheduler.js';
