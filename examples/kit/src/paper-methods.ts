import { Greedy, GuidedScheduler, RandomScheduler, rubiLoss, Vanilla, type Balancer } from '@mm/balance';

/** The methods of the paper's Table 1, as the reproductions name them. */
export const PAPER_METHODS = ['unimodal', 'vanilla', 'rubi', 'random', 'guided'] as const;
export type PaperMethod = (typeof PAPER_METHODS)[number];

export interface PaperMethodSettings {
  /** Imbalance tolerance α of the guided scheduler. */
  alpha: number;
  /** Re-balancing window Q. */
  windowSize: number;
  /** Regular steps before balancing may start (the paper: one epoch). */
  warmupSteps: number;
  numModalities: number;
  /** Seed of the random scheduler. */
  seed: number;
  /** Base of the learning speed's logarithm (default 10, the reference code's). */
  logBase?: number;
}

/**
 * The balancer for one of the paper's methods: a uni-modal model trains plainly; every fused
 * model measures the learning speed (d_speed is reported for vanilla and RUBi too), and
 * re-balances as its scheduler decides.
 */
export function paperBalancer(method: PaperMethod, s: PaperMethodSettings): Balancer {
  const learningSpeed = { logBase: s.logBase ?? 10 };
  switch (method) {
    case 'unimodal':
      return new Vanilla();
    case 'vanilla':
      return new Greedy({ learningSpeed });
    case 'rubi':
      return new Greedy({ loss: rubiLoss(), learningSpeed });
    case 'random':
      return new Greedy({ scheduler: new RandomScheduler({ warmupSteps: s.warmupSteps, numModalities: s.numModalities, seed: s.seed }), learningSpeed });
    case 'guided':
      return new Greedy({ scheduler: new GuidedScheduler({ alpha: s.alpha, windowSize: s.windowSize, warmupSteps: s.warmupSteps }), learningSpeed });
  }
}

/** 'regular  d_speed +0.123' / 'rebalance m1  d_speed …' for progress lines. */
export function describeGreedy(metrics: Record<string, number | null>): string {
  const d = metrics.dSpeed ?? null;
  const kind = metrics.rebalance === undefined ? '' : metrics.rebalance === null ? 'regular   ' : `rebalance m${metrics.rebalance}`;
  return `${kind}${d === null ? '' : `  d_speed ${d >= 0 ? '+' : ''}${d.toFixed(3)}`}`.trim();
}
