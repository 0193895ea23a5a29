// Drawing an action from a distribution: the edge's exploration and the gate's replays draw the same way.

/** Inverse-CDF sample: `uniform` in [0, 1) picks an index with the probability the distribution gives it. */
export function sampleIndex(distribution: ArrayLike<number>, uniform: number): number {
  let cumulative = 0;
  let last = 0;
  for (let a = 0; a < distribution.length; a++) {
    if (distribution[a] === 0) continue;
    cumulative += distribution[a];
    last = a;
    if (uniform < cumulative) return a;
  }
  // Rounding can leave the sum a hair under 1: the remainder goes to the last possible action.
  return last;
}
