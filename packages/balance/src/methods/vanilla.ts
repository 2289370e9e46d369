import type { Balancer, BalancerState, Requirements } from '../balancer.js';

/**
 * No balancing: the model's own loss (Σ_k CE over its heads, or CE of a late model's output),
 * one update per batch. The baseline every method is compared with.
 */
export class Vanilla implements Balancer<Record<string, never>> {
  readonly name = 'vanilla';
  readonly requirements: Requirements = { modalities: { min: 1 } };

  state(): BalancerState {
    return { json: {} };
  }

  restore(): void {}
}
