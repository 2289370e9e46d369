/** What a training step does: a regular step, or a re-balancing step that accelerates modality k. */
export type StepKind = { kind: 'regular' } | { kind: 'rebalance'; modality: number };

export const REGULAR: StepKind = Object.freeze({ kind: 'regular' });
