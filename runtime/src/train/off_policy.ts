// Off-policy comparison of two greedy policies on logged bandit events: a paired doubly robust estimate of
// V(candidate) − V(active) (Dudík, Langford & Li 2011) with a cross-fitted reward model, a standard error clustered by
// image, and a betting confidence sequence (Waudby-Smith & Ramdas 2023) that holds at any number of events.
//
// Event i shows image x_i, logs action a_i drawn with probability μ_i = μ(a_i|x_i) and reward r_i. With c_i and b_i the
// candidate's and the active model's greedy actions and r̂ a reward model fitted on other images (cross-fitting):
//   d_i = r̂(x_i, c_i) − r̂(x_i, b_i) + ([a_i = c_i] − [a_i = b_i]) / μ_i · (r_i − r̂(x_i, a_i))
//   Δ̂   = (1/n) Σ d_i                          unbiased for any r̂, since E[[a = c]/μ | x] = 1
// Where the two agree (c_i = b_i), d_i = 0 exactly: only disagreeing images carry information. The logging policy's
// floor (every action at least γ/K) bounds the weights 1/μ, so nothing is clipped and nothing is biased.
// The estimand is the difference on the evaluated images (the held-out images as they were logged): given them, the
// direct part r̂(x, c) − r̂(x, b) is fixed and only the importance-weighted corrections vary, so the bounds and the power
// formula use the corrections' spread; the standard error clustered by image describes new sets of images as well.

/** One logged event as the comparison needs it. */
export interface ComparisonEvent {
  /** The image: events of one image form a cluster for the standard error, and a fold for cross-fitting. */
  cluster: number;
  action: number;
  /** μ(a|x): the probability the logged action was drawn with. */
  propensity: number;
  reward: number;
  candidateAction: number;
  activeAction: number;
  /**
   * The largest weight this event's disagreement term can carry, 1 / min(μ(c|x), μ(b|x)), from the logged
   * distribution; the floor keeps it at most K/γ.
   */
  maxWeight: number;
  /** Features of the reward model: each policy's probabilities for this image (softmax rows). */
  candidateProbabilities: ArrayLike<number>;
  activeProbabilities: ArrayLike<number>;
}

export interface PairedEstimate {
  /** Events compared, and how many images they show. */
  n: number;
  clusters: number;
  /** Events where the two greedy actions differ: the only ones with a nonzero term. */
  disagreements: number;
  /** Δ̂ = mean of d_i. */
  value: number;
  /** Per-event variance of d, clustered by image (n · Var(Δ̂)): the spread over new sets of images. */
  variance: number;
  standardError: number;
  /**
   * Per-event variance of the corrections: the spread of Δ̂ given these images, what the bounds and the power formula
   * (for the difference on the evaluated images) need.
   */
  conditionalVariance: number;
  /** The confidence sequence at this n: Δ is above `lower` (and below `upper`) with probability ≥ 1 − α each. */
  lower: number;
  upper: number;
  /** α of each one-sided bound. */
  alpha: number;
}

export interface ComparisonOptions {
  /** Error of each one-sided bound (default 0.05: the lower bound is a 95% bound). */
  alpha?: number;
  /** Range every reward lies in (default [0, 1]). */
  rewardRange?: readonly [number, number];
  /** Disagreeing events the confidence sequence is tuned for (tightest near it, valid at every count). */
  horizon?: number;
  /** Folds of the cross-fitted reward model, split by image. */
  folds?: number;
}

export const GATE_ALPHA = 0.05;
/** Disagreeing events the bets are tuned for: about what 5,000 evaluation events hold at 3-4% disagreement. */
export const DEFAULT_HORIZON = 200;
const DEFAULT_FOLDS = 2;
const RIDGE = 1e-3;

// ---- The reward model: least squares on each policy's probability of the action, fitted on other images. ----

/** Features of (image, action) for the reward model: a constant and each policy's probability of the action. */
function features(event: ComparisonEvent, action: number): [number, number, number] {
  return [1, event.candidateProbabilities[action], event.activeProbabilities[action]];
}

/** r̂(x, a) = w · φ(x, a), clamped to the reward range. */
export type RewardModel = (event: ComparisonEvent, action: number) => number;

/** Ridge least squares of the logged reward on the logged action's features. */
export function fitRewardModel(events: readonly ComparisonEvent[], rewardRange: readonly [number, number] = [0, 1]): RewardModel {
  const xtx = [
    [RIDGE, 0, 0],
    [0, RIDGE, 0],
    [0, 0, RIDGE],
  ];
  const xty = [0, 0, 0];
  for (const e of events) {
    const phi = features(e, e.action);
    for (let j = 0; j < 3; j++) {
      xty[j] += phi[j] * e.reward;
      for (let k = 0; k < 3; k++) xtx[j][k] += phi[j] * phi[k];
    }
  }
  const w = solve3(xtx, xty);
  const [low, high] = rewardRange;
  return (event, action) => {
    const phi = features(event, action);
    return Math.min(high, Math.max(low, w[0] * phi[0] + w[1] * phi[1] + w[2] * phi[2]));
  };
}

/** Solves the 3×3 system A·w = b (A symmetric positive definite) by Gaussian elimination with partial pivoting. */
function solve3(a: number[][], b: number[]): number[] {
  const m = a.map((row, i) => [...row, b[i]]);
  for (let col = 0; col < 3; col++) {
    let pivot = col;
    for (let r = col + 1; r < 3; r++) if (Math.abs(m[r][col]) > Math.abs(m[pivot][col])) pivot = r;
    [m[col], m[pivot]] = [m[pivot], m[col]];
    for (let r = col + 1; r < 3; r++) {
      const f = m[r][col] / m[col][col];
      for (let k = col; k < 4; k++) m[r][k] -= f * m[col][k];
    }
  }
  const w = [0, 0, 0];
  for (let r = 2; r >= 0; r--) {
    let rest = m[r][3];
    for (let k = r + 1; k < 3; k++) rest -= m[r][k] * w[k];
    w[r] = rest / m[r][r];
  }
  return w;
}

/** The fold of an image: a hash of its cluster id, so every event of one image is in the same fold. */
const foldOf = (cluster: number, folds: number) => (Math.imul(cluster ^ 0x9e3779b9, 0x85ebca6b) >>> 0) % folds;

// ---- The doubly robust terms. ----

/** An event's term d = direct + correction: the reward model's difference, and the importance-weighted residual. */
export interface DoublyRobustTerm {
  direct: number;
  correction: number;
}

/** d_i for each event, with r̂ for an event's image fitted on the other folds' events. */
export function doublyRobustTerms(events: readonly ComparisonEvent[], rewardRange: readonly [number, number] = [0, 1], folds = DEFAULT_FOLDS): DoublyRobustTerm[] {
  const foldIds = events.map((e) => foldOf(e.cluster, folds));
  const models = Array.from({ length: folds }, (_, f) => fitRewardModel(events.filter((_, i) => foldIds[i] !== f), rewardRange));
  return events.map((e, i) => doublyRobustTerm(e, models[foldIds[i]]));
}

/** One event's term given a reward model fitted without it; both parts are 0 where the two policies agree. */
export function doublyRobustTerm(e: ComparisonEvent, rewardModel: RewardModel): DoublyRobustTerm {
  if (e.candidateAction === e.activeAction) return { direct: 0, correction: 0 };
  const direct = rewardModel(e, e.candidateAction) - rewardModel(e, e.activeAction);
  const sign = (e.action === e.candidateAction ? 1 : 0) - (e.action === e.activeAction ? 1 : 0);
  return { direct, correction: (sign / e.propensity) * (e.reward - rewardModel(e, e.action)) };
}

// ---- Standard error clustered by image. ----

/** Mean of the terms and the per-event variance n·Var(mean), from cluster sums (Liang & Zeger), with G/(G−1). */
export function clusteredMean(terms: ArrayLike<number>, clusters: ArrayLike<number>): { mean: number; variance: number; clusters: number } {
  const n = terms.length;
  let total = 0;
  for (let i = 0; i < n; i++) total += terms[i];
  const mean = total / n;
  const sums = new Map<number, number>();
  for (let i = 0; i < n; i++) sums.set(clusters[i], (sums.get(clusters[i]) ?? 0) + terms[i] - mean);
  const g = sums.size;
  let squares = 0;
  for (const s of sums.values()) squares += s * s;
  return { mean, variance: g > 1 ? ((g / (g - 1)) * squares) / n : 0, clusters: g };
}

// ---- The betting confidence sequence. ----

/**
 * A lower confidence bound for the mean of observations in [0, 1], valid at every count (Waudby-Smith & Ramdas 2023,
 * predictable plug-in bets): m is excluded once the wealth Π (1 + λ_i (x_i − m)) of betting that the mean is above m
 * reaches 1/α. Bets λ_i = √(2 log(1/α) / (σ̂²_{i−1} · horizon)), capped at 1/(2m), use only earlier observations.
 */
export function bettingLowerBound(xs: ArrayLike<number>, alpha: number, horizon: number): number {
  const n = xs.length;
  if (n === 0) return 0;
  const bets = new Float64Array(n);
  let sum = 0;
  let squares = 0.25;
  for (let i = 0; i < n; i++) {
    const variance = squares / (i + 1);
    bets[i] = Math.sqrt((2 * Math.log(1 / alpha)) / (variance * horizon));
    sum += xs[i];
    const mean = (0.5 + sum) / (i + 2);
    squares += (xs[i] - mean) ** 2;
  }
  const threshold = Math.log(1 / alpha);
  const logWealth = (m: number) => {
    let total = 0;
    const cap = 0.5 / m;
    for (let i = 0; i < n; i++) total += Math.log1p(Math.min(bets[i], cap) * (xs[i] - m));
    return total;
  };
  // The wealth falls as m rises (each factor does): bisect for where it crosses 1/α.
  if (logWealth(1e-12) < threshold) return 0;
  let low = 0;
  let high = 1;
  for (let step = 0; step < 50; step++) {
    const mid = (low + high) / 2;
    if (logWealth(mid) >= threshold) low = mid;
    else high = mid;
  }
  return low;
}

/**
 * Lower and upper bounds (each at level 1 − α) for the mean of observations in [lo, hi], from the betting confidence
 * sequence on the observations scaled to [0, 1] (the upper bound from the mirrored observations).
 */
export function bettingInterval(values: ArrayLike<number>, lo: number, hi: number, alpha: number, horizon: number): { lower: number; upper: number } {
  const width = hi - lo;
  const scaled = Float64Array.from(values, (v) => (v - lo) / width);
  const mirrored = scaled.map((x) => 1 - x);
  return { lower: lo + width * bettingLowerBound(scaled, alpha, horizon), upper: hi - width * bettingLowerBound(mirrored, alpha, horizon) };
}

// ---- The comparison. ----

/**
 * V(candidate) − V(active) on the evaluated images, from the events in their log order. Given the images, the direct
 * part is known and only the corrections are random: the confidence sequence runs over the corrections of the
 * disagreeing events (each bounded by the largest weight the logged distributions allow), scaled by their share of
 * the events, and is added to the mean direct part.
 */
export function comparePolicies(events: readonly ComparisonEvent[], options: ComparisonOptions = {}): PairedEstimate {
  const n = events.length;
  if (n === 0) throw new Error('off-policy evaluation needs at least one event');
  const alpha = options.alpha ?? GATE_ALPHA;
  const rewardRange = options.rewardRange ?? [0, 1];
  const terms = doublyRobustTerms(events, rewardRange, options.folds ?? DEFAULT_FOLDS);
  const { mean, variance, clusters } = clusteredMean(terms.map((t) => t.direct + t.correction), events.map((e) => e.cluster));
  const direct = terms.reduce((s, t) => s + t.direct, 0) / n;
  const corrections = terms.map((t) => t.correction);
  const correctionMean = corrections.reduce((s, c) => s + c, 0) / n;
  const conditionalVariance = n > 1 ? corrections.reduce((s, c) => s + (c - correctionMean) ** 2, 0) / (n - 1) : 0;
  const disagreeing = events.flatMap((e, i) => (e.candidateAction === e.activeAction ? [] : [i]));
  const share = disagreeing.length / n;
  let lower = direct;
  let upper = direct;
  if (disagreeing.length > 0) {
    // |correction| ≤ w·R with R the reward range's width and w the largest weight.
    const bound = (rewardRange[1] - rewardRange[0]) * Math.max(...disagreeing.map((i) => events[i].maxWeight));
    const interval = bettingInterval(disagreeing.map((i) => corrections[i]), -bound, bound, alpha, options.horizon ?? DEFAULT_HORIZON);
    lower = direct + share * interval.lower;
    upper = direct + share * interval.upper;
  }
  return { n, clusters, disagreements: disagreeing.length, value: mean, variance, standardError: Math.sqrt(variance / n), conditionalVariance, lower, upper, alpha };
}

/**
 * Events needed to promote a candidate truly `difference` better with probability `power`, for terms of this
 * per-event variance: n = (√(2 log(1/α)) + z_power)² σ² / δ², the confidence sequence's radius √(2 σ² log(1/α) / n)
 * in place of the normal quantile.
 */
export function eventsNeeded(variance: number, difference: number, alpha = GATE_ALPHA, power = 0.8): number {
  return Math.ceil(((Math.sqrt(2 * Math.log(1 / alpha)) + normalQuantile(power)) ** 2 * variance) / difference ** 2);
}

/** Φ⁻¹(p) by Acklam's rational approximation (relative error under 1.2e-9). */
export function normalQuantile(p: number): number {
  const a = [-39.69683028665376, 220.9460984245205, -275.9285104469687, 138.357751867269, -30.66479806614716, 2.506628277459239];
  const b = [-54.47609879822406, 161.5858368580409, -155.6989798598866, 66.80131188771972, -13.28068155288572];
  const c = [-0.007784894002430293, -0.3223964580411365, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
  const d = [0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416];
  const tail = (q: number) => (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  if (p < 0.02425) return tail(Math.sqrt(-2 * Math.log(p)));
  if (p > 1 - 0.02425) return -tail(Math.sqrt(-2 * Math.log(1 - p)));
  const q = p - 0.5;
  const r = q * q;
  return ((((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q) / (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
}
