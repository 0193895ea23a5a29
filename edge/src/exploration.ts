// Exploration policies: the distribution an action is sampled from, so the logged propensity is exact.

export type Exploration = { kind: 'greedy' } | { kind: 'epsilon'; epsilon: number } | { kind: 'softmax'; temperature: number };

export const GREEDY: Exploration = { kind: 'greedy' };

/** Parses `epsilon:0.1`, `softmax:1.0` or `greedy`; throws a one-line message otherwise. */
export function parseExploration(text: string): Exploration {
  const [kind, value, ...rest] = text.trim().split(':');
  const number = Number(value);
  if (kind === 'greedy' && value === undefined) return GREEDY;
  if (kind === 'epsilon' && rest.length === 0 && value !== '' && number >= 0 && number <= 1) return { kind, epsilon: number };
  if (kind === 'softmax' && rest.length === 0 && value !== '' && number > 0 && Number.isFinite(number)) return { kind, temperature: number };
  throw new Error(`EXPLORATION must be epsilon:<0..1>, softmax:<temperature above 0> or greedy, not ${JSON.stringify(text)}`);
}

/** Index of the largest value; the first one on a tie. */
export function argmax(values: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i] > values[best]) best = i;
  return best;
}

/**
 * π(a | x) for every action from the policy logits, in f64.
 * ε-greedy: (1−ε)·[a = argmax] + ε/K; softmax: softmax(logits / T); greedy: 1 for the argmax.
 */
export function policyDistribution(logits: ArrayLike<number>, exploration: Exploration): Float64Array {
  const classes = logits.length;
  const distribution = new Float64Array(classes);
  const best = argmax(logits);
  switch (exploration.kind) {
    case 'greedy':
      distribution[best] = 1;
      return distribution;
    case 'epsilon':
      distribution.fill(exploration.epsilon / classes);
      distribution[best] += 1 - exploration.epsilon;
      return distribution;
    case 'softmax': {
      let total = 0;
      for (let a = 0; a < classes; a++) total += distribution[a] = Math.exp((logits[a] - logits[best]) / exploration.temperature);
      for (let a = 0; a < classes; a++) distribution[a] /= total;
      return distribution;
    }
  }
}

/** Inverse-CDF sample: `uniform` in [0, 1) picks an index with the probability the distribution gives it. */
export function sampleIndex(distribution: Float64Array, uniform: number): number {
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
