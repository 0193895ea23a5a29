// Off-policy evaluation of a target policy on logged bandit events: IPS and self-normalised IPS with 95% intervals.
//
// Each event i was logged with action a_i drawn with propensity p_i and got reward r_i. With w_i = min(π(a_i|x_i)/p_i, M)
// (clipping at M trades bias, downward for IPS, for much less variance: one rarely explored action can otherwise outweigh
// thousands of events):
//   IPS   = (1/n) Σ w_i r_i,              95% CI: ± 1.96 · sd(w_i r_i) / √n
//   SNIPS = Σ w_i r_i / Σ w_i,            95% CI: ± 1.96 · sd(w_i (r_i − SNIPS)) / (mean(w) √n)   (delta method)
//   ESS   = (Σ w_i)² / Σ w_i²             (how many on-policy samples the estimate is worth)
// Comparing two policies on the same events, the paired difference d_i = (w_i − v_i) r_i is far less noisy than
// either estimate alone: only events where the two policies differ contribute.
//   Δ     = (1/n) Σ d_i,                   95% CI: ± 1.96 · sd(d_i) / √n

import { argmaxRows } from '../engine/cpu_engine';

export interface Estimate {
  value: number;
  lower: number;
  upper: number;
}

export interface OffPolicyEstimate {
  n: number;
  ips: Estimate;
  snips: Estimate;
  effectiveSampleSize: number;
  /** Mean logged reward of the same events (the logging policy's own value). */
  loggedReward: number;
}

const Z95 = 1.959964;

function meanAndSd(values: number[]): { mean: number; sd: number } {
  const n = values.length;
  const mean = values.reduce((a, b) => a + b, 0) / n;
  const variance = n > 1 ? values.reduce((a, v) => a + (v - mean) ** 2, 0) / (n - 1) : 0;
  return { mean, sd: Math.sqrt(variance) };
}

/** `targetProbability[i]` is π(a_i | x_i) of the policy being evaluated for the logged action; `clip` is M. */
export function offPolicyEstimate(rewards: ArrayLike<number>, propensities: ArrayLike<number>, targetProbability: ArrayLike<number>, clip = Infinity): OffPolicyEstimate {
  const n = rewards.length;
  if (n === 0) throw new Error('off-policy evaluation needs at least one event');
  const w = Array.from({ length: n }, (_, i) => Math.min(targetProbability[i] / propensities[i], clip));
  const weighted = w.map((wi, i) => wi * rewards[i]);
  const ips = meanAndSd(weighted);
  const sumW = w.reduce((a, b) => a + b, 0);
  const sumW2 = w.reduce((a, b) => a + b * b, 0);
  const snipsValue = sumW > 0 ? weighted.reduce((a, b) => a + b, 0) / sumW : 0;
  const residual = meanAndSd(w.map((wi, i) => wi * (rewards[i] - snipsValue)));
  const meanW = sumW / n;
  const ipsHalf = (Z95 * ips.sd) / Math.sqrt(n);
  const snipsHalf = meanW > 0 ? (Z95 * residual.sd) / (meanW * Math.sqrt(n)) : Infinity;
  return {
    n,
    ips: { value: ips.mean, lower: ips.mean - ipsHalf, upper: ips.mean + ipsHalf },
    snips: { value: snipsValue, lower: snipsValue - snipsHalf, upper: snipsValue + snipsHalf },
    effectiveSampleSize: sumW2 > 0 ? (sumW * sumW) / sumW2 : 0,
    loggedReward: Array.from(rewards).reduce((a, b) => a + b, 0) / n,
  };
}

/**
 * IPS estimate of V(candidate) − V(active) from the same events, paired per event; `candidate[i]` and `active[i]` are
 * each policy's π(a_i | x_i).
 */
export function pairedDifference(rewards: ArrayLike<number>, propensities: ArrayLike<number>, candidate: ArrayLike<number>, active: ArrayLike<number>, clip = Infinity): Estimate {
  const n = rewards.length;
  if (n === 0) throw new Error('off-policy evaluation needs at least one event');
  const d = Array.from({ length: n }, (_, i) => (Math.min(candidate[i] / propensities[i], clip) - Math.min(active[i] / propensities[i], clip)) * rewards[i]);
  const { mean, sd } = meanAndSd(d);
  const half = (Z95 * sd) / Math.sqrt(n);
  return { value: mean, lower: mean - half, upper: mean + half };
}

/** π(a|x) of the greedy policy given each event's probabilities row: 1 for the argmax, else 0. */
export function greedyProbabilities(probabilities: ArrayLike<number>, actions: ArrayLike<number>, classes: number): Float64Array {
  const greedy = argmaxRows(probabilities, actions.length, classes);
  return Float64Array.from(greedy, (best, i) => (best === actions[i] ? 1 : 0));
}
