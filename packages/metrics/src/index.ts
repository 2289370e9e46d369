export { conditionalUtilizationRate, utilizationImbalance } from './utilization.js';
