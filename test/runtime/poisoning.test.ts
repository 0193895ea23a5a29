// The loop's defences against false rewards: the per-key share cap, the salted held-out hash, per-key statistics and
// the disagreement flag, this last one on simulated keys whose truth is known.
import { capKeyShare, disagreementFlags, keyStats, Random, saltedImageHash, twoSidedNormalP, type RewardJudgement } from '@seed/runtime';
import { describe, expect, it } from 'vitest';

const image = (seed: number) => {
  const random = new Random(seed);
  return Float32Array.from({ length: 784 }, () => Math.round(random.next() * 255) / 255);
};
const events = (keyId: string, count: number, first: number, reward = 1) =>
  Array.from({ length: count }, (_, i) => ({ keyId, pixels: image(first + i), reward }));

describe('capKeyShare', () => {
  it('keeps no key above the share, cutting only the keys over the cap, by the salted hash', () => {
    const log = [...events('a', 100, 0), ...events('b', 100, 1000), ...events('flood', 400, 2000)];
    const { kept, dropped, cap } = capKeyShare(log, 0.4, 'secret');
    // (100 + 100 + C) / C ≥ 1 / 0.4 gives C ≤ 133.
    expect(cap).toBe(133);
    expect(dropped).toEqual({ flood: 267 });
    expect(kept).toHaveLength(333);
    const share = kept.filter((e) => e.keyId === 'flood').length / kept.length;
    expect(share).toBeLessThanOrEqual(0.4);
    // Which of the flood's events stay depends on the secret, not on their order.
    const other = capKeyShare(log, 0.4, 'another secret').kept.filter((e) => e.keyId === 'flood');
    expect(other).toHaveLength(133);
    expect(other).not.toEqual(kept.filter((e) => e.keyId === 'flood'));
    expect(capKeyShare([...log].reverse(), 0.4, 'secret').kept.filter((e) => e.keyId === 'flood').sort((x, y) => x.pixels[0] - y.pixels[0] || x.pixels[1] - y.pixels[1]))
      .toEqual(kept.filter((e) => e.keyId === 'flood').sort((x, y) => x.pixels[0] - y.pixels[0] || x.pixels[1] - y.pixels[1]));
  });

  it('leaves a log alone when every key is under the share, or when too few keys make any cap impossible', () => {
    const balanced = [...events('a', 50, 0), ...events('b', 60, 100), ...events('c', 55, 200)];
    expect(capKeyShare(balanced, 0.4, 's')).toEqual({ kept: balanced, dropped: {}, cap: 60 });
    const single = events('only', 20, 0);
    expect(capKeyShare(single, 0.25, 's')).toEqual({ kept: single, dropped: {}, cap: null });
  });
});

it('saltedImageHash: stable for a salt, another split for another salt', () => {
  const images = Array.from({ length: 400 }, (_, i) => image(i));
  const heldOut = (salt: string) => images.map((pixels) => saltedImageHash(pixels, salt) % 5 === 0);
  expect(heldOut('one')).toEqual(heldOut('one'));
  const [one, two] = [heldOut('one'), heldOut('two')];
  expect(one.filter(Boolean).length).toBeGreaterThan(50);
  expect(one.filter(Boolean).length).toBeLessThan(110);
  expect(one.filter((held, i) => held !== two[i]).length).toBeGreaterThan(50);
});

it('keyStats: events and mean reward per key, largest first; events from before keys were recorded under the empty id', () => {
  const rewards = [{ keyId: 'a', reward: 1 }, { keyId: 'b', reward: 0 }, { keyId: 'a', reward: 1 }, { keyId: 'b', reward: 0 }, { keyId: 'a', reward: 0 }, { keyId: 'b', reward: 0 }, { reward: 1 }];
  expect(keyStats(rewards)).toEqual([
    { keyId: 'a', events: 3, meanReward: 2 / 3 },
    { keyId: 'b', events: 3, meanReward: 0 },
    { keyId: '', events: 1, meanReward: 1 },
  ]);
});

describe('disagreementFlags', () => {
  /** A key whose rewards disagree with the model with probability `rate`. */
  const judged = (random: Random, keyId: string, count: number, rate: number): RewardJudgement[] =>
    Array.from({ length: count }, () => {
      const modelChoseAction = random.next() < 0.7;
      const disagrees = random.next() < rate;
      return { keyId, modelChoseAction, rewardSaysRight: disagrees ? !modelChoseAction : modelChoseAction };
    });

  it('the normal tail: p = 0.05 at z = 1.96, 1 at 0', () => {
    expect(twoSidedNormalP(1.959964)).toBeCloseTo(0.05, 6);
    expect(twoSidedNormalP(-2.575829)).toBeCloseTo(0.01, 6);
    expect(twoSidedNormalP(0)).toBeCloseTo(1, 6);
  });

  it('flags the one key that rewards against the model, among honest keys that disagree with it where it is wrong', () => {
    const random = new Random(3);
    const log = [...Array.from({ length: 8 }, (_, k) => judged(random, `honest-${k}`, 300, 0.15)).flat(), ...judged(random, 'poisoner', 300, 0.85)];
    const flags = disagreementFlags(log, 0.01);
    expect(flags.filter((f) => f.flagged).map((f) => f.keyId)).toEqual(['poisoner']);
    const poisoner = flags.find((f) => f.keyId === 'poisoner')!;
    expect(poisoner.rate).toBeGreaterThan(0.8);
    expect(poisoner.typicalRate).toBeLessThan(0.2);
    // A subtler poisoner, 15 points over the honest rate, is found too at this size.
    const subtle = disagreementFlags([...Array.from({ length: 6 }, (_, k) => judged(random, `h${k}`, 300, 0.3)).flat(), ...judged(random, 'subtle', 300, 0.45)]);
    expect(subtle.filter((f) => f.flagged).map((f) => f.keyId)).toEqual(['subtle']);
  });

  it('flags an honest key in at most about α of logs (family-wise), and never with fewer than 3 keys or 30 rewards', () => {
    const random = new Random(11);
    let logsWithAFlag = 0;
    const trials = 300;
    for (let trial = 0; trial < trials; trial++) {
      const log = Array.from({ length: 9 }, (_, k) => judged(random, `honest-${k}`, 200, 0.3)).flat();
      if (disagreementFlags(log, 0.05).some((f) => f.flagged)) logsWithAFlag++;
    }
    // α = 0.05 with the Bonferroni correction: the family-wise rate is at most 5% (the median as reference adds a little).
    expect(logsWithAFlag / trials).toBeLessThan(0.08);
    expect(disagreementFlags([...judged(random, 'a', 500, 0.1), ...judged(random, 'b', 500, 0.9)]).some((f) => f.flagged)).toBe(false);
    const tiny = disagreementFlags([...judged(random, 'a', 300, 0.1), ...judged(random, 'b', 300, 0.1), ...judged(random, 'c', 300, 0.1), ...judged(random, 'few', 20, 1)]);
    expect(tiny.find((f) => f.keyId === 'few')).toMatchObject({ events: 20, flagged: false });
  });
});
