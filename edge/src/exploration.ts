// Exploration policies: the distribution an action is sampled from, so the logged propensity is exact. Every
// exploring policy gives each of the K actions at least γ/K (ε-greedy: γ = ε; softmax: mixed with uniform at γ), so
// an off-policy estimate's importance weights are bounded by K/γ and need no clipping.

export { sampleIndex } from '@seed/runtime/engine';

export type Exploration =
  | { kind: 'greedy' }
  | { kind: 'epsilon'; epsilon: number }
  | { kind: 'softmax'; temperature: number; floor: number };

export const GREEDY: Exploration = { kind: 'greedy' };

/** The uniform share mixed into `softmax:T` when the setting does not name one. */
export const DEFAULT_SOFTMAX_FLOOR = 0.1;

/** Parses `epsilon:E`, `softmax:T`, `softmax:T:γ` or `greedy`; throws a one-line message otherwise. */
export function parseExploration(text: string): Exploration {
  const [kind, value, floorText, ...rest] = text.trim().split(':');
  const number = Number(value);
  const floor = floorText === undefined ? DEFAULT_SOFTMAX_FLOOR : floorText === '' ? Number.NaN : Number(floorText);
  if (kind === 'greedy' && value === undefined) return GREEDY;
  if (kind === 'epsilon' && floorText === undefined && value !== '' && number > 0 && number <= 1) return { kind, epsilon: number };
  if (kind === 'softmax' && rest.length === 0 && value !== '' && number > 0 && Number.isFinite(number) && floor > 0 && floor <= 1) return { kind, temperature: number, floor };
  throw new Error(
    `EXPLORATION must be epsilon:<E in (0,1]>, softmax:<temperature above 0>[:<uniform share γ in (0,1], default ${DEFAULT_SOFTMAX_FLOOR}>] or greedy, not ${JSON.stringify(text)}`,
  );
}

/** The setting's canonical text, as each event logs it: `epsilon:0.1`, `softmax:1:0.1`, `greedy`. */
export function formatExploration(exploration: Exploration): string {
  switch (exploration.kind) {
    case 'greedy':
      return 'greedy';
    case 'epsilon':
      return `epsilon:${exploration.epsilon}`;
    case 'softmax':
      return `softmax:${exploration.temperature}:${exploration.floor}`;
  }
}

/** The least probability the policy gives any action out of `classes`: γ/K, or 0 for greedy. */
export function explorationFloor(exploration: Exploration, classes: number): number {
  switch (exploration.kind) {
    case 'greedy':
      return 0;
    case 'epsilon':
      return exploration.epsilon / classes;
    case 'softmax':
      return exploration.floor / classes;
  }
}

/** Index of the largest value; the first one on a tie. */
export function argmax(values: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i] > values[best]) best = i;
  return best;
}

/**
 * π(a | x) for every action from the policy logits, in f64.
 * ε-greedy: (1−ε)·[a = argmax] + ε/K; softmax: (1−γ)·softmax(logits / T) + γ/K; greedy: 1 for the argmax.
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
      const { floor } = exploration;
      for (let a = 0; a < classes; a++) distribution[a] = ((1 - floor) * distribution[a]) / total + floor / classes;
      return distribution;
    }
  }
}
