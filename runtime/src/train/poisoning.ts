// Defences of the learning loop against clients that send false rewards, as pure functions over logged events that
// carry the id of the key that sent them (GET /v1/events `keyId`):
// - a cap on each key's share of one generation's training events, so no single key can outvote the rest;
// - the held-out split drawn from a keyed hash of the image with a secret salt, so no client can choose whether its
//   event trains the candidate or judges it;
// - per-key counts and mean rewards for the lineage;
// - a test of each key's rewards against a model's judgement: a key whose rewards disagree with the model far more (or
//   less) often than the typical key's, beyond chance, is flagged.
import { createHmac } from 'node:crypto';
import type { LoggedEvent } from './datasets';

/** The key id of events exported before keys were recorded. */
export const UNKNOWN_KEY = '';

const keyOf = (event: Pick<LoggedEvent, 'keyId'>) => event.keyId ?? UNKNOWN_KEY;

/** A 32-bit hash of the quantised image keyed with the salt (HMAC-SHA256): unpredictable without the salt. */
export function saltedImageHash(pixels: ArrayLike<number>, salt: string): number {
  const bytes = Uint8Array.from({ length: pixels.length }, (_, i) => Math.round(pixels[i] * 255));
  return createHmac('sha256', salt).update(bytes).digest().readUInt32BE(0);
}

export interface KeyShareCap<T> {
  kept: T[];
  /** Events left out, per key. */
  dropped: Record<string, number>;
  /** The most events any key keeps; null when the cap cannot hold (fewer than 1/maxShare keys) and nothing was dropped. */
  cap: number | null;
}

/**
 * Keeps at most `maxShare` of the kept events from any one key: the largest cap C with C ≤ maxShare · Σ_k min(n_k, C).
 * Which of a key's events stay is decided by the salted hash, so the key cannot choose them. With fewer than
 * 1/maxShare keys no cap can hold, and the events are returned as they are (cap null).
 */
export function capKeyShare<T extends Pick<LoggedEvent, 'keyId' | 'pixels'>>(events: readonly T[], maxShare: number, salt: string): KeyShareCap<T> {
  const byKey = new Map<string, T[]>();
  for (const event of events) {
    const list = byKey.get(keyOf(event));
    if (list) list.push(event);
    else byKey.set(keyOf(event), [event]);
  }
  const counts = [...byKey.values()].map((list) => list.length);
  const keptWith = (cap: number) => counts.reduce((sum, n) => sum + Math.min(n, cap), 0);
  const holds = (cap: number) => cap <= maxShare * keptWith(cap);
  const largest = Math.max(0, ...counts);
  if (holds(largest)) return { kept: [...events], dropped: {}, cap: largest };
  // holds() is true below some C and false above it: keptWith(C)/C only falls as C grows.
  let [low, high] = [0, largest];
  while (high - low > 1) {
    const middle = Math.floor((low + high) / 2);
    if (holds(middle)) low = middle;
    else high = middle;
  }
  if (low === 0 || keptWith(low) === 0) return { kept: [...events], dropped: {}, cap: null };
  const keep = new Set<T>();
  const dropped: Record<string, number> = {};
  for (const [keyId, list] of byKey) {
    const ranked = list.length <= low ? list : list.map((event) => ({ event, hash: saltedImageHash(event.pixels, salt) })).sort((a, b) => a.hash - b.hash).slice(0, low).map((r) => r.event);
    ranked.forEach((event) => keep.add(event));
    if (list.length > low) dropped[keyId] = list.length - low;
  }
  return { kept: events.filter((event) => keep.has(event)), dropped, cap: low };
}

export interface KeyStats {
  keyId: string;
  events: number;
  /** Mean of the rewards the events carry (the default reward included where the client sent none). */
  meanReward: number;
}

/** Each key's event count and mean reward, largest first. */
export function keyStats(events: readonly Pick<LoggedEvent, 'keyId' | 'reward'>[]): KeyStats[] {
  const totals = new Map<string, { events: number; reward: number }>();
  for (const event of events) {
    const total = totals.get(keyOf(event)) ?? { events: 0, reward: 0 };
    total.events++;
    total.reward += event.reward;
    totals.set(keyOf(event), total);
  }
  return [...totals]
    .map(([keyId, total]) => ({ keyId, events: total.events, meanReward: total.reward / total.events }))
    .sort((a, b) => b.events - a.events || a.keyId.localeCompare(b.keyId));
}

/** One client reward set against a model's judgement of the same event. */
export interface RewardJudgement {
  keyId: string;
  /** The client's reward said the action was right (reward ≥ 0.5). */
  rewardSaysRight: boolean;
  /** The model would have taken the logged action itself (its greedy action). */
  modelChoseAction: boolean;
}

export interface KeyDisagreement {
  keyId: string;
  events: number;
  /** Share of the key's rewards that disagree with the model: right where the model chose otherwise, or wrong where it chose the same. */
  rate: number;
  /** The median of the keys' rates: what an honest key's rate is taken to be. */
  typicalRate: number;
  z: number;
  /** Two-sided, before the Bonferroni correction over keys. */
  pValue: number;
  flagged: boolean;
}

/** Keys with fewer judged rewards than this are reported but never flagged. */
export const MIN_JUDGED_REWARDS = 30;

/** P(|Z| ≥ |z|) for a standard normal Z (erfc by Abramowitz and Stegun 7.1.26, error under 1.5e-7). */
export function twoSidedNormalP(z: number): number {
  const x = Math.abs(z) / Math.SQRT2;
  const t = 1 / (1 + 0.3275911 * x);
  const poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
  return Math.min(1, poly * Math.exp(-x * x));
}

/**
 * Tests each key's disagreement rate against the median key's. Honest keys that see the same kind of images disagree
 * with a model about as often as each other (where the model is wrong); a key that rewards wrong actions stands out.
 * z = (rate − median)/√(median·(1 − median)/n); flagged when its two-sided p is under α / (number of keys tested).
 * The median needs a majority of honest keys: with fewer than 3 testable keys nothing is flagged.
 */
export function disagreementFlags(judgements: readonly RewardJudgement[], alpha = 0.01): KeyDisagreement[] {
  const tallies = new Map<string, { events: number; disagree: number }>();
  for (const j of judgements) {
    const tally = tallies.get(j.keyId) ?? { events: 0, disagree: 0 };
    tally.events++;
    if (j.rewardSaysRight !== j.modelChoseAction) tally.disagree++;
    tallies.set(j.keyId, tally);
  }
  const rates = [...tallies].map(([keyId, t]) => ({ keyId, events: t.events, rate: t.disagree / t.events }));
  const testable = rates.filter((r) => r.events >= MIN_JUDGED_REWARDS);
  const sorted = testable.map((r) => r.rate).sort((a, b) => a - b);
  const middle = sorted.length / 2;
  const typicalRate = sorted.length === 0 ? 0 : sorted.length % 2 ? sorted[Math.floor(middle)] : (sorted[middle - 1] + sorted[middle]) / 2;
  // A floor on the variance, so a median of exactly 0 or 1 does not make every small difference infinitely significant.
  const variance = Math.max(typicalRate * (1 - typicalRate), 0.25 / Math.max(1, ...testable.map((r) => r.events)));
  return rates
    .map((r) => {
      const z = (r.rate - typicalRate) / Math.sqrt(variance / r.events);
      const pValue = twoSidedNormalP(z);
      const flagged = testable.length >= 3 && r.events >= MIN_JUDGED_REWARDS && pValue < alpha / testable.length;
      return { ...r, typicalRate, z, pValue, flagged };
    })
    .sort((a, b) => b.events - a.events || a.keyId.localeCompare(b.keyId));
}

/** One client reward, placed in a cell of events that honest keys reward alike (e.g. the model's greedy class and the logged action). */
export interface CellReward {
  keyId: string;
  cell: number | string;
  /** The client's reward said the action was right (reward ≥ 0.5). */
  rewardSaysRight: boolean;
}

export interface KeyConsensus {
  keyId: string;
  /** The key's rewards in cells where at least two other keys' rewards are known. */
  events: number;
  /** Mean of |r − q̂| over those rewards: q̂ the other keys' share of "right" rewards in the cell. */
  disagreement: number;
  /** What an honest key's mean would be: 2p(1 − p) per cell, from the other keys' rewards. */
  expected: number;
  z: number;
  /** One-sided: P(Z ≥ z). */
  pValue: number;
  flagged: boolean;
}

/** P(Z ≥ z) for a standard normal Z. */
export const upperNormalP = (z: number): number => (z >= 0 ? twoSidedNormalP(z) / 2 : 1 - twoSidedNormalP(z) / 2);

/**
 * Var(S) for S = x(1 − 2X/m) + nX/m − n·2X(m − X)/(m(m − 1)), x ~ Bin(n, p) and X ~ Bin(m, p) independent: a key's
 * disagreement less its expectation in one cell. Exact under the binomial model: E[Var(S | X)] + Var(E[S | X]), the
 * second a quadratic in X, from the binomial's central moments.
 */
export function cellVariance(n: number, m: number, p: number): number {
  const mean = m * p;
  const variance = m * p * (1 - p);
  const third = variance * (1 - 2 * p);
  const fourth = 3 * variance * variance + variance * (1 - 6 * p * (1 - p));
  // E[S | X] = a + bX + cX².
  const b = (n * (1 - 2 * p)) / m - (2 * n) / (m - 1);
  const c = (2 * n) / (m * (m - 1));
  const slope = b + 2 * c * mean;
  const ofMean = slope * slope * variance + c * c * (fourth - variance * variance) + 2 * slope * c * third;
  const ofRewards = n * p * (1 - p) * ((1 - (2 * mean) / m) ** 2 + (4 * variance) / (m * m));
  return ofRewards + ofMean;
}

/**
 * Tests each key's rewards against the other keys' rewards in the same cells. Honest keys that draw from the same stream
 * of images reward a cell alike (with probability p of "right"), whatever model logged the events, so the test needs no
 * trained model: with cells made from the active model's greedy class, it works from generation 1, when the model's
 * classes are unnamed clusters.
 *
 * For key k in cell c with n rewards, x of them "right", and the other keys' X "right" of m: the key's disagreement
 * Σ|r − X/m| = x(1 − 2q̂) + n·q̂ has expectation n·2p(1 − p) when the key is honest (its rewards independent of the
 * others' and of rate p), estimated without bias by n·2X(m − X)/(m(m − 1)). Its variance is cellVariance's, with p
 * estimated as (X + 1)/(m + 2). z is the standardised sum less a Cornish–Fisher term for its skew (that of the key's own
 * binomial rewards), since with rare "right" rewards the upper tail is heavier than the normal's.
 * z = Σ_c (observed − expected)/√Σ_c variance; one-sided, since only a key that disagrees more than chance is suspect.
 * Flagged when p < α / (number of keys tested); flagged keys leave the others' consensus and the rest are tested again,
 * until no more are flagged. Needs a majority of honest traffic in each cell, and honest keys that see the same kind
 * of images: a client that only ever draws one digit is judged on the cells it reaches, where impure cells can make it
 * look unusual.
 */
export function consensusFlags(rewards: readonly CellReward[], alpha = 0.01): KeyConsensus[] {
  // Per cell, per key: [rewards, "right" rewards].
  const cells = new Map<number | string, Map<string, [number, number]>>();
  const keys = new Set<string>();
  for (const r of rewards) {
    keys.add(r.keyId);
    let byKey = cells.get(r.cell);
    if (!byKey) cells.set(r.cell, (byKey = new Map()));
    const tally = byKey.get(r.keyId) ?? [0, 0];
    tally[0]++;
    if (r.rewardSaysRight) tally[1]++;
    byKey.set(r.keyId, tally);
  }
  const testOne = (keyId: string, excluded: ReadonlySet<string>): Omit<KeyConsensus, 'flagged'> => {
    let events = 0;
    let observed = 0;
    let expected = 0;
    let variance = 0;
    let thirdCumulant = 0;
    for (const byKey of cells.values()) {
      const own = byKey.get(keyId);
      if (!own) continue;
      let m = 0;
      let x = 0;
      for (const [other, [count, right]] of byKey) {
        if (other === keyId || excluded.has(other)) continue;
        m += count;
        x += right;
      }
      if (m < 2) continue;
      const [n, right] = own;
      const q = x / m;
      events += n;
      observed += right * (1 - 2 * q) + n * q;
      expected += (n * 2 * x * (m - x)) / (m * (m - 1));
      const p = (x + 1) / (m + 2);
      variance += cellVariance(n, m, p);
      thirdCumulant += n * p * (1 - p) * (1 - 2 * p) * (1 - 2 * q) ** 3;
    }
    // Cornish–Fisher: rare "right" rewards skew the sum to the right, which the normal tail alone understates.
    const raw = variance > 0 ? (observed - expected) / Math.sqrt(variance) : 0;
    // raw = z + k(z² − 1) inverted (the root that is monotone in raw); a left skew (k < 0) is left out, which is conservative.
    const k = variance > 0 ? Math.max(0, thirdCumulant / variance ** 1.5 / 6) : 0;
    const z = k < 1e-9 ? raw : (-1 + Math.sqrt(Math.max(0, 1 + 4 * k * (k + raw)))) / (2 * k);
    return { keyId, events, disagreement: events ? observed / events : 0, expected: events ? expected / events : 0, z, pValue: upperNormalP(z) };
  };
  const flagged = new Set<string>();
  const testable = () => [...keys].filter((keyId) => testOne(keyId, new Set()).events >= MIN_JUDGED_REWARDS);
  const tested = testable().length;
  let results: KeyConsensus[] = [];
  for (;;) {
    results = [...keys].map((keyId) => {
      const result = testOne(keyId, flagged);
      return { ...result, flagged: flagged.has(keyId) || (tested >= 3 && result.events >= MIN_JUDGED_REWARDS && result.pValue < alpha / tested) };
    });
    const newly = results.filter((r) => r.flagged && !flagged.has(r.keyId));
    if (newly.length === 0) break;
    newly.forEach((r) => flagged.add(r.keyId));
  }
  return results.sort((a, b) => b.events - a.events || (a.keyId < b.keyId ? -1 : a.keyId > b.keyId ? 1 : 0));
}

/**
 * Events in an order that does not depend on when their requests arrived: by key id, then event id. Training shuffles
 * with a seed from the order it is given, so this makes a generation's candidate a function of the events alone.
 */
export function inStableOrder<T extends Pick<LoggedEvent, 'keyId' | 'eventId'>>(events: readonly T[]): T[] {
  const key = (e: T) => `${e.keyId ?? UNKNOWN_KEY}\n${e.eventId}`;
  return events.map((event) => ({ event, key: key(event) })).sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0)).map((r) => r.event);
}
