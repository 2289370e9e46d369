/**
 * Axes a squeeze (global average pool) reduces for a channels-last tensor of the given rank:
 * every axis but the batch (0) and the channels (last). Vectors (rank 2) have none.
 */
export function squeezeAxes(rank: number): number[] {
  if (!Number.isInteger(rank) || rank < 2) throw new Error(`expected a batched tensor of rank ≥ 2, got rank ${rank}`);
  return Array.from({ length: rank - 2 }, (_, i) => i + 1);
}
