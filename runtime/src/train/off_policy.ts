// Off-policy comparison of two greedy policies on logged bandit events: a paired doubly robust estimate of
// V(candidate) − V(active) (Dudík, Langford & Li 2011) with a reward model that never reads the event it corrects, a
// standard error clustered by image, and a betting confidence sequence (Waudby-Smith & Ramdas 2023).
//
// Event i shows image x_i, logs action a_i drawn with probability μ_i = μ(a_i|x_i) and reward r_i. With c_i and b_i the
// candidate's and the active model's greedy actions and r̂_i a reward model that does not depend on event i's action:
//   d_i = r̂_i(x_i, c_i) − r̂_i(x_i, b_i) + ([a_i = c_i] − [a_i = b_i]) / μ_i · (r_i − r̂_i(x_i, a_i))
//   Δ̂   = (1/n) Σ d_i                          unbiased for any such r̂, since E[[a = c]/μ | x] = 1
// Where the two agree (c_i = b_i), d_i = 0 exactly: only disagreeing images carry information. The logging policy's
// floor (every action at least γ/K) bounds the weights 1/μ, so nothing is clipped and nothing is biased.
// The estimand is the difference on the evaluated images (the held-out images as they were logged): the direct part
// r̂(x, c) − r̂(x, b) is the forecast and the importance-weighted corrections what it missed, so the bounds and the power
// formula use the corrections' spread; the standard error clustered by image describes new sets of images as well.
// The default r̂ is each image's label posterior given its other events (see below); `ridge` is the earlier linear fit.

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
  /**
   * A third opinion on the image's digit, from data the evaluation does not hold: the digits that rewards named on
   * the training images nearest to it (`neighbourVoter`). The posterior reward model gives it its own fitted exponent;
   * it must not depend on this event's action or reward (nothing from the evaluation's events may go into it).
   */
  referenceProbabilities?: ArrayLike<number>;
  /**
   * What rewards outside the evaluation said about the image's digit: the log-likelihood of each label
   * (`rewardEvidence`) from the image's events that are not judged, such as those logged before the candidate was
   * frozen. The posterior reward model multiplies it in. Those events' actions were drawn apart from the evaluation's,
   * so r̂ still does not depend on this event's action; no evaluation event may go into it.
   */
  outsideEvidence?: ArrayLike<number>;
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
  /** The bound on each correction the confidence sequence scales by: the reward range's width times the largest weight. */
  correctionBound: number;
  /**
   * Mean over the disagreeing events of how far below 0 each correction could fall given r̂ (−`low` of its term): the
   * lower bound's floor scales with it, so the power formula reads it as its B.
   */
  downsideBound: number;
}

export interface ComparisonOptions {
  /** Error of each one-sided bound (default 0.05: the lower bound is a 95% bound). */
  alpha?: number;
  /** Range every reward lies in (default [0, 1]). */
  rewardRange?: readonly [number, number];
  /**
   * Disagreeing events the confidence sequence is tuned for (tightest near it, valid at every count). By default the
   * evaluation's own count of them: the images and the two models fix it before any action is drawn.
   */
  horizon?: number;
  /** Folds of the cross-fitted ridge reward model, split by image (only with `rewardModel: 'ridge'`). */
  folds?: number;
  /**
   * The reward model r̂: `posterior` (default), each image's label posterior from both models' probabilities and the
   * image's other rewards; `ridge`, the earlier linear fit on each model's probability of the action, cross-fitted by
   * image.
   */
  rewardModel?: 'posterior' | 'ridge';
  /**
   * What the posterior reads of the same image's rewards in the evaluation: `others` (default), every other event of
   * the image (leave one out); `earlier`, only the events before it in the log (predictable); `none`, nothing (the
   * prior alone, what an evaluation where no image comes back would have). An event's `outsideEvidence` is read in
   * every mode.
   */
  evidence?: 'others' | 'earlier' | 'none';
}

export const GATE_ALPHA = 0.05;
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
  /**
   * The range the correction could take over every action and reward, given r̂ and the weights the logged distribution
   * allows, known before the event's own action is drawn: `low` ≤ 0 ≤ `high`. Where r̂ is sure which digit is right,
   * one side is all but 0 (a correction can only fall if the reward contradicts r̂), and the bets on that side can be
   * large.
   */
  low: number;
  high: number;
}

const AGREE: DoublyRobustTerm = { direct: 0, correction: 0, low: 0, high: 0 };

/** d_i for each event, with r̂ for an event's image fitted on the other folds' events. */
export function doublyRobustTerms(events: readonly ComparisonEvent[], rewardRange: readonly [number, number] = [0, 1], folds = DEFAULT_FOLDS): DoublyRobustTerm[] {
  const foldIds = events.map((e) => foldOf(e.cluster, folds));
  const models = Array.from({ length: folds }, (_, f) => fitRewardModel(events.filter((_, i) => foldIds[i] !== f), rewardRange));
  return events.map((e, i) => doublyRobustTerm(e, models[foldIds[i]], rewardRange));
}

/** One event's term given a reward model fitted without it; both parts are 0 where the two policies agree. */
export function doublyRobustTerm(e: ComparisonEvent, rewardModel: RewardModel, rewardRange: readonly [number, number] = [0, 1]): DoublyRobustTerm {
  if (e.candidateAction === e.activeAction) return AGREE;
  const candidate = rewardModel(e, e.candidateAction);
  const active = rewardModel(e, e.activeAction);
  const sign = (e.action === e.candidateAction ? 1 : 0) - (e.action === e.activeAction ? 1 : 0);
  // a = c adds (r − r̂(c))/μ(c), a = b subtracts (r − r̂(b))/μ(b), any other action adds 0; each weight is in [1, w].
  const [lo, hi] = rewardRange;
  const ends = [lo - candidate, hi - candidate, active - lo, active - hi].flatMap((v) => [v, v * e.maxWeight]);
  return { direct: candidate - active, correction: (sign / e.propensity) * (e.reward - rewardModel(e, e.action)), low: Math.min(0, ...ends), high: Math.max(0, ...ends) };
}

// ---- The label-posterior reward model: both models' probabilities and the image's other rewards. ----
//
// A reward of 1 names the image's digit and a reward of 0 rules one out, so every reward is evidence about the label,
// and r̂(x, a) = low + (high − low) · P(label = a | evidence). The prior over the label is a product of the two models'
// probabilities and, where the event carries one, the reference's: q(a) ∝ p_c(a)^θ₁ · p_b(a)^θ₂ · p_ref(a)^θ₃, with θ
// fitted by maximum likelihood on the disagreeing events' rewards; the same image's rewards multiply it by their
// likelihood. Where the two models disagree, their own probabilities say little about which is right; the reference
// (the digits of the nearest training images whose digit a reward named) is a vote from elsewhere. DR stays unbiased
// as long as nothing r̂ uses for event i depends on event i's own action: given the images, the actions are drawn
// independently, so the other events of the same image are fair evidence (leave one out, the default), and so are the
// earlier ones only (predictable, for a sequence read in log order). Where another event of the image named its digit,
// r̂ is exact and the term is the true difference with no variance at all: an evaluation whose images come back (held-out images are drawn again by the
// clients, the replays draw test digits with replacement) is nearly as good as a labelled one on those images.

/** Log-probabilities below this are clamped: a model's probability of 1e-30 is no stronger evidence than 2e-9. */
const LOG_FLOOR = -20;
/** Chance a reward says the opposite of the label (a client's mistake): keeps the posterior finite if one happens. */
const EVIDENCE_NOISE = 0.001;
/** Disagreeing events before the prior's θ is first fitted (θ = (0.5, 0.5, 0.5) until then). */
const FIRST_REFIT = 8;
/** Pull of θ toward its start in the fit (a Gaussian prior of variance 1 / this), so a few events cannot run it off. */
const THETA_PENALTY = 1;
/** θ₁, θ₂ for the candidate's and the active model's probabilities, θ₃ for the reference's (unused where none). */
export type PriorExponents = readonly [number, number, number];
const THETA_START: PriorExponents = [0.5, 0.5, 0.5];

const logOf = (p: number) => Math.max(LOG_FLOOR, Math.log(p));

/** Clamped log-probabilities of a row, computed once per row (replays and fits read the same rows many times). */
const logRows = new WeakMap<object, Float64Array>();
function logsOf(row: ArrayLike<number>): Float64Array {
  let logs = logRows.get(row as object);
  if (!logs) {
    logs = Float64Array.from(row, logOf);
    logRows.set(row as object, logs);
  }
  return logs;
}

/** The log-probability rows the prior weighs: the candidate's, the active model's, and the reference's if any. */
const opinionsOf = (event: ComparisonEvent): Float64Array[] => [
  logsOf(event.candidateProbabilities), logsOf(event.activeProbabilities), ...(event.referenceProbabilities ? [logsOf(event.referenceProbabilities)] : []),
];

/** The prior over the label: softmax of θ₁ log p_c + θ₂ log p_b (+ θ₃ log p_ref with a reference), plus `extra`. */
export function labelPrior(event: ComparisonEvent, theta: readonly number[], extra?: ArrayLike<number>): Float64Array {
  const opinions = opinionsOf(event);
  const k = opinions[0].length;
  const scores = new Float64Array(k);
  let top = -Infinity;
  for (let a = 0; a < k; a++) {
    let score = extra ? extra[a] : 0;
    for (let o = 0; o < opinions.length; o++) score += theta[o] * opinions[o][a];
    scores[a] = score;
    top = Math.max(top, scores[a]);
  }
  let total = 0;
  for (let a = 0; a < k; a++) total += scores[a] = Math.exp(scores[a] - top);
  for (let a = 0; a < k; a++) scores[a] /= total;
  return scores;
}

/** A logged reward scaled to [0, 1]: 1 says the action is the digit, 0 that it is not. */
const evidenceOf = (reward: number, [low, high]: readonly [number, number]) => Math.min(1, Math.max(0, (reward - low) / (high - low)));

/** Gradient of the penalised log-likelihood Σ u log q(a) + (1 − u) log(1 − q(a)) of the rewards, in θ. */
function priorGradient(seen: readonly { event: ComparisonEvent; u: number }[], theta: PriorExponents): [number, number, number] {
  const g: [number, number, number] = [0, 1, 2].map((o) => -THETA_PENALTY * (theta[o] - THETA_START[o])) as [number, number, number];
  for (const { event, u } of seen) {
    const q = labelPrior(event, theta);
    const opinions = opinionsOf(event);
    const qa = Math.min(1 - 1e-9, Math.max(1e-9, q[event.action]));
    const weight = u - ((1 - u) * qa) / (1 - qa);
    for (let o = 0; o < opinions.length; o++) {
      let mean = 0;
      for (let a = 0; a < q.length; a++) mean += q[a] * opinions[o][a];
      g[o] += weight * (opinions[o][event.action] - mean);
    }
  }
  return g;
}

/** θ by Newton's method (Hessian by differences of the gradient), from `start`, kept in [0, 3]³. */
export function fitLabelPrior(seen: readonly { event: ComparisonEvent; u: number }[], start: PriorExponents = THETA_START): [number, number, number] {
  let theta: [number, number, number] = [start[0], start[1], start[2]];
  const h = 1e-4;
  for (let step = 0; step < 20; step++) {
    const g = priorGradient(seen, theta);
    // Columns of the Hessian, by differences of the gradient.
    const columns = [0, 1, 2].map((o) => {
      const moved: [number, number, number] = [theta[0], theta[1], theta[2]];
      moved[o] += h;
      const gh = priorGradient(seen, moved);
      return gh.map((v, r) => (v - g[r]) / h);
    });
    const hessian = [0, 1, 2].map((r) => [0, 1, 2].map((c) => (columns[c][r] + columns[r][c]) / 2));
    // A Newton step where the Hessian is negative definite (it is a maximum), else a small gradient step.
    const newton = negativeDefinite(hessian) ? solve3(hessian, g).map((v) => -v) : null;
    let move = newton ?? g.map((v) => 0.01 * v);
    const length = Math.hypot(...move);
    if (length > 0.5) move = move.map((v) => (v * 0.5) / length);
    const next = theta.map((t, o) => Math.min(3, Math.max(0, t + move[o]))) as [number, number, number];
    const change = Math.hypot(...next.map((t, o) => t - theta[o]));
    theta = next;
    if (change < 1e-4) break;
  }
  return theta;
}

/** Whether the symmetric 3×3 matrix is negative definite (leading minors alternate in sign, starting below 0). */
function negativeDefinite(m: number[][]): boolean {
  const minor2 = m[0][0] * m[1][1] - m[0][1] * m[1][0];
  const det = m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1]) - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0]) + m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0]);
  return m[0][0] < 0 && minor2 > 0 && det < 0;
}

/**
 * d_i for each event in log order, with r̂ the label posterior given only the events before it (see above). With
 * `sameImageEvidence` off the posterior is the prior alone, what an evaluation where no image comes back would have.
 */
export function posteriorTerms(events: readonly ComparisonEvent[], rewardRange: readonly [number, number] = [0, 1], sameImageEvidence = true): DoublyRobustTerm[] {
  const [low, high] = rewardRange;
  let theta: PriorExponents = THETA_START;
  let nextFit = FIRST_REFIT;
  const seen: { event: ComparisonEvent; u: number }[] = [];
  const evidence = new Map<number, Float64Array>();
  return events.map((e) => {
    if (e.candidateAction === e.activeAction) return AGREE;
    if (seen.length >= nextFit) {
      theta = fitLabelPrior(seen, theta);
      nextFit *= 2;
    }
    const posterior = labelPrior(e, theta, withOutside(e, evidence.get(e.cluster)));
    const term = doublyRobustTerm(e, (_, a) => low + (high - low) * posterior[a], rewardRange);
    const u = evidenceOf(e.reward, rewardRange);
    seen.push({ event: e, u });
    if (sameImageEvidence) addEvidence(evidence, e.cluster, rewardLogLikelihood(e.action, u, posterior.length));
    return term;
  });
}

/** Log-likelihood of one reward for each label: the action named (u = 1) or ruled out (u = 0). */
function rewardLogLikelihood(action: number, u: number, classes: number): Float64Array {
  const named = Math.log(u * (1 - EVIDENCE_NOISE) + (1 - u) * EVIDENCE_NOISE);
  const ruledOut = Math.log(u * EVIDENCE_NOISE + (1 - u) * (1 - EVIDENCE_NOISE));
  return Float64Array.from({ length: classes }, (_, y) => (y === action ? named : ruledOut));
}

/** Adds one reward's log-likelihoods into a running total. */
function addInto(total: Float64Array, ll: Float64Array): Float64Array {
  for (let y = 0; y < ll.length; y++) total[y] += ll[y];
  return total;
}

/** Adds one reward's log-likelihoods to its image's running total. */
function addEvidence(totals: Map<number, Float64Array>, cluster: number, ll: Float64Array): void {
  const total = totals.get(cluster);
  if (total) addInto(total, ll);
  else totals.set(cluster, ll.slice());
}

/** The log-likelihood of each label given some rewarded actions on one image (`ComparisonEvent.outsideEvidence`). */
export function rewardEvidence(events: readonly { action: number; reward: number }[], rewardRange: readonly [number, number] = [0, 1], classes = 10): Float64Array {
  return events.reduce<Float64Array>((total, e) => addInto(total, rewardLogLikelihood(e.action, evidenceOf(e.reward, rewardRange), classes)), new Float64Array(classes));
}

/** Evidence from the image's other events plus what came from outside the evaluation, if any. */
function withOutside(e: ComparisonEvent, inside: ArrayLike<number> | undefined): ArrayLike<number> | undefined {
  if (!e.outsideEvidence) return inside;
  return inside ? Float64Array.from(inside, (v, y) => v + (e.outsideEvidence as ArrayLike<number>)[y]) : e.outsideEvidence;
}

/**
 * d_i with r̂ the label posterior given every other event of the same image (before or after it) and θ fitted on the
 * other fold of images: nothing r̂ uses for event i depends on event i's action, so each d_i is unbiased given the images.
 */
export function leaveOneOutTerms(events: readonly ComparisonEvent[], rewardRange: readonly [number, number] = [0, 1], folds = DEFAULT_FOLDS): DoublyRobustTerm[] {
  const disagreeing = events.flatMap((e) => (e.candidateAction === e.activeAction ? [] : [{ event: e, u: evidenceOf(e.reward, rewardRange) }]));
  const thetas = Array.from({ length: folds }, (_, f) => fitLabelPrior(disagreeing.filter((d) => foldOf(d.event.cluster, folds) !== f)));
  const totals = new Map<number, Float64Array>();
  const own = disagreeing.map(({ event, u }) => {
    const ll = rewardLogLikelihood(event.action, u, event.candidateProbabilities.length);
    addEvidence(totals, event.cluster, ll);
    return ll;
  });
  const [low, high] = rewardRange;
  let next = 0;
  return events.map((e) => {
    if (e.candidateAction === e.activeAction) return AGREE;
    const mine = own[next++];
    const others = (totals.get(e.cluster) as Float64Array).map((t, y) => t - mine[y]);
    const posterior = labelPrior(e, thetas[foldOf(e.cluster, folds)], withOutside(e, others));
    return doublyRobustTerm(e, (_, a) => low + (high - low) * posterior[a], rewardRange);
  });
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
 * The largest bet against a mean m is BET_CAP/(m − low), low the least the observation can be (0 unless known), which
 * keeps every factor 1 + λ(x − m) at least 1 − BET_CAP > 0 (any cap below 1/(m − low) keeps the wealth a nonnegative
 * supermartingale). It sets the bound's floor when the observations barely vary: with all of n at the mean, m is
 * ruled out only beyond about log(1/α) · (m − low) / (n · BET_CAP) below it (the rule of three at a cap of
 * 1/(m − low)). 3/4 rather than the usual 1/2 takes a third off that floor.
 */
export const BET_CAP = 0.75;

/**
 * A lower confidence bound for the mean of observations in [0, 1], valid at every count (Waudby-Smith & Ramdas 2023,
 * predictable plug-in bets): m is excluded once the wealth Π (1 + λ_i (x_i − m)) of betting that the mean is above m
 * reaches 1/α. Bets λ_i = √(2 log(1/α) / (σ̂²_{i−1} · horizon)), capped at BET_CAP/(m − lows[i]), use only earlier
 * observations and each observation's own lower end, known before it is drawn.
 */
export function bettingLowerBound(xs: ArrayLike<number>, alpha: number, horizon: number, lows?: ArrayLike<number>): number {
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
  // Observation i is known to lie at or above lows[i] (0 without them), so a bet against m may go up to
  // BET_CAP/(m − lows[i]): the factor still stays at least 1 − BET_CAP. Where m is below lows[i] it cannot fall at all.
  const logWealth = (m: number) => {
    let total = 0;
    for (let i = 0; i < n; i++) {
      const room = m - (lows ? lows[i] : 0);
      total += Math.log1p((room > 0 ? Math.min(bets[i], BET_CAP / room) : bets[i]) * (xs[i] - m));
    }
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
 * sequence on the observations scaled to [0, 1] (the upper bound from the mirrored observations). Where each
 * observation's own range [lows[i], highs[i]] inside [lo, hi] is known before it is drawn, the bets use it.
 */
export function bettingInterval(
  values: ArrayLike<number>, lo: number, hi: number, alpha: number, horizon: number, ranges?: { lows: ArrayLike<number>; highs: ArrayLike<number> },
): { lower: number; upper: number } {
  const width = hi - lo;
  const scaled = Float64Array.from(values, (v) => (v - lo) / width);
  const mirrored = scaled.map((x) => 1 - x);
  const lows = ranges && Float64Array.from(ranges.lows, (v) => (v - lo) / width);
  const highs = ranges && Float64Array.from(ranges.highs, (v) => 1 - (v - lo) / width);
  return { lower: lo + width * bettingLowerBound(scaled, alpha, horizon, lows), upper: hi - width * bettingLowerBound(mirrored, alpha, horizon, highs) };
}

// ---- The comparison. ----

/**
 * V(candidate) − V(active) on the evaluated images, from the events in their log order. Given the images, the direct
 * part is known and only the corrections are random: the confidence sequence runs over the corrections of the
 * disagreeing events (each within its own range given r̂, inside ± the largest weight the logged distributions
 * allow), scaled by their share of the events, and is added to the mean direct part.
 */
export function comparePolicies(events: readonly ComparisonEvent[], options: ComparisonOptions = {}): PairedEstimate {
  const n = events.length;
  if (n === 0) throw new Error('off-policy evaluation needs at least one event');
  const alpha = options.alpha ?? GATE_ALPHA;
  const rewardRange = options.rewardRange ?? [0, 1];
  const terms = (options.rewardModel ?? 'posterior') === 'ridge'
    ? doublyRobustTerms(events, rewardRange, options.folds ?? DEFAULT_FOLDS)
    : (options.evidence ?? 'others') === 'others' ? leaveOneOutTerms(events, rewardRange) : posteriorTerms(events, rewardRange, options.evidence === 'earlier');
  const { mean, variance, clusters } = clusteredMean(terms.map((t) => t.direct + t.correction), events.map((e) => e.cluster));
  const direct = terms.reduce((s, t) => s + t.direct, 0) / n;
  const corrections = terms.map((t) => t.correction);
  const correctionMean = corrections.reduce((s, c) => s + c, 0) / n;
  const conditionalVariance = n > 1 ? corrections.reduce((s, c) => s + (c - correctionMean) ** 2, 0) / (n - 1) : 0;
  const disagreeing = events.flatMap((e, i) => (e.candidateAction === e.activeAction ? [] : [i]));
  const share = disagreeing.length / n;
  let lower = direct;
  let upper = direct;
  // |correction| ≤ w·R with R the reward range's width and w the largest weight.
  const bound = disagreeing.length > 0 ? (rewardRange[1] - rewardRange[0]) * Math.max(...disagreeing.map((i) => events[i].maxWeight)) : 0;
  let downsideBound = 0;
  if (disagreeing.length > 0) {
    const ranges = { lows: disagreeing.map((i) => terms[i].low), highs: disagreeing.map((i) => terms[i].high) };
    downsideBound = -ranges.lows.reduce((s, v) => s + v, 0) / disagreeing.length;
    const interval = bettingInterval(disagreeing.map((i) => corrections[i]), -bound, bound, alpha, options.horizon ?? disagreeing.length, ranges);
    lower = direct + share * interval.lower;
    upper = direct + share * interval.upper;
  }
  return { n, clusters, disagreements: disagreeing.length, value: mean, variance, standardError: Math.sqrt(variance / n), conditionalVariance, lower, upper, alpha, correctionBound: bound, downsideBound };
}

/**
 * Events needed to promote a candidate truly `difference` better with probability `power`, for terms of this
 * per-event variance σ²: the n where δ = (√(2 log(1/α)) + z_power)·σ/√n + log(1/α)·B/(BET_CAP·n), the confidence
 * sequence's radius √(2σ² log(1/α)/n) in place of the normal quantile, plus its floor where the corrections barely
 * vary (see BET_CAP; B the bound on a correction, `correctionBound`; without it the floor is left out).
 */
export function eventsNeeded(variance: number, difference: number, alpha = GATE_ALPHA, power = 0.8, correctionBound = 0): number {
  const b = (Math.sqrt(2 * Math.log(1 / alpha)) + normalQuantile(power)) * Math.sqrt(variance);
  const a = (Math.log(1 / alpha) * correctionBound) / BET_CAP;
  const root = (b + Math.sqrt(b * b + 4 * a * difference)) / (2 * difference);
  return Math.ceil(root * root);
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
