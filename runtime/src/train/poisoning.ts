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
