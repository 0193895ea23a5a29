// The loop's defences against false rewards: the per-key share cap, the salted held-out hash, per-key statistics and
// the disagreement flag, this last one on simulated keys whose truth is known.
import {
  capKeyShare, consensusFlags, disagreementFlags, inStableOrder, keyStats, Random, saltedImageHash, twoSidedNormalP, upperNormalP, type CellReward, type RewardJudgement,
} from '@seed/runtime';
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

describe('consensusFlags', () => {
  /**
   * A generation-1 log: the model's greedy class is an unnamed cluster (a permutation of the digit) for `purity` of the
   * images, else any class; the logged action is the greedy class 30% of the time, else uniform. An honest key rewards
   * the true digit; `flip` is the share of its rewards a key inverts (1: the poisoner of pnpm experiment:poison).
   */
  const log = (random: Random, keyId: string, count: number, flip = 0, purity = 0.8): CellReward[] =>
    Array.from({ length: count }, () => {
      const digit = random.int(10);
      const greedy = random.next() < purity ? (digit * 3 + 7) % 10 : random.int(10);
      const action = random.next() < 0.3 ? greedy : random.int(10);
      const right = action === digit;
      return { keyId, cell: greedy * 10 + action, rewardSaysRight: random.next() < flip ? !right : right };
    });
  const honestKeys = (random: Random, keys: number, count: number, purity?: number) => Array.from({ length: keys }, (_, k) => log(random, `honest-${k}`, count, 0, purity)).flat();

  it('the upper normal tail: 0.05 at z = 1.645, 0.5 at 0, 0.975 at -1.96', () => {
    expect(upperNormalP(1.644854)).toBeCloseTo(0.05, 6);
    expect(upperNormalP(0)).toBeCloseTo(0.5, 6);
    expect(upperNormalP(-1.959964)).toBeCloseTo(0.975, 6);
  });

  it('flags the poisoner of the experiment in generation 1 (the model\'s classes unnamed), in every one of 40 logs, and no honest key', () => {
    for (let seed = 1; seed <= 40; seed++) {
      const random = new Random(seed);
      // 4,000 honest interactions over 8 keys and 444 from the poisoner, as in pnpm experiment:poison.
      const flags = consensusFlags([...honestKeys(random, 8, 500), ...log(random, 'poisoner', 444, 1)], 0.01);
      expect(flags.filter((f) => f.flagged).map((f) => f.keyId)).toEqual(['poisoner']);
      const poisoner = flags.find((f) => f.keyId === 'poisoner')!;
      expect(poisoner.z).toBeGreaterThan(10);
      expect(poisoner.disagreement).toBeGreaterThan(poisoner.expected + 0.5);
    }
  });

  it('needs no informative model: with greedy classes that say nothing (a head at chance), the poisoner stands out all the same', () => {
    for (let seed = 1; seed <= 10; seed++) {
      const random = new Random(300 + seed);
      const flags = consensusFlags([...honestKeys(random, 8, 500, 0), ...log(random, 'poisoner', 444, 1, 0)], 0.01);
      expect(flags.filter((f) => f.flagged).map((f) => f.keyId)).toEqual(['poisoner']);
    }
    // The model flag is blind there: the poisoner disagrees with a chance model's choices about as often as honest keys do.
    const random = new Random(3);
    const chance = (keyId: string, count: number, flip: number): RewardJudgement[] =>
      Array.from({ length: count }, () => {
        const digit = random.int(10);
        const greedy = random.int(10);
        const action = random.next() < 0.5 ? greedy : random.int(10);
        const right = action === digit;
        return { keyId, modelChoseAction: action === greedy, rewardSaysRight: random.next() < flip ? !right : right };
      });
    const blind = disagreementFlags([...Array.from({ length: 8 }, (_, k) => chance(`honest-${k}`, 500, 0)).flat(), ...chance('poisoner', 444, 1)], 0.01);
    expect(blind.find((f) => f.keyId === 'poisoner')!.flagged).toBe(false);
  });

  it('finds subtler keys: one that inverts a third of its rewards, and two poisoners at once', () => {
    let found = 0;
    for (let seed = 1; seed <= 20; seed++) {
      const random = new Random(100 + seed);
      const flags = consensusFlags([...honestKeys(random, 8, 500), ...log(random, 'subtle', 500, 1 / 3)], 0.01);
      expect(flags.filter((f) => f.flagged && f.keyId !== 'subtle')).toEqual([]);
      if (flags.find((f) => f.keyId === 'subtle')!.flagged) found++;
    }
    expect(found).toBeGreaterThanOrEqual(18);
    const random = new Random(7);
    const two = consensusFlags([...honestKeys(random, 8, 500), ...log(random, 'p1', 600, 1), ...log(random, 'p2', 600, 1)], 0.01);
    expect(two.filter((f) => f.flagged).map((f) => f.keyId).sort()).toEqual(['p1', 'p2']);
  });

  it('flags an honest key in at most about α of logs (family-wise), over 300 logs with impure cells and a random model', () => {
    const random = new Random(11);
    const trials = 300;
    let clusters = 0;
    let chance = 0;
    for (let trial = 0; trial < trials; trial++) {
      if (consensusFlags(honestKeys(random, 9, 300), 0.05).some((f) => f.flagged)) clusters++;
      // A model whose greedy class says nothing (purity 0): cells hold every digit alike.
      if (consensusFlags(honestKeys(random, 9, 300, 0), 0.05).some((f) => f.flagged)) chance++;
    }
    // α = 0.05 with the Bonferroni correction: at most 5%, and a little over for the normal approximation.
    expect(clusters / trials).toBeLessThan(0.08);
    expect(chance / trials).toBeLessThan(0.08);
  });

  it('a poisoner in the consensus makes honest keys look more alike, not less: none is flagged', () => {
    let honestFlagged = 0;
    for (let seed = 1; seed <= 100; seed++) {
      const random = new Random(500 + seed);
      // A large poisoner (30% of the traffic) pulls the consensus its way before it is taken out.
      const flags = consensusFlags([...honestKeys(random, 8, 300), ...log(random, 'poisoner', 1000, 1)], 0.05);
      if (flags.some((f) => f.flagged && f.keyId !== 'poisoner')) honestFlagged++;
    }
    expect(honestFlagged).toBeLessThanOrEqual(8);
  });

  it('never flags with fewer than 3 testable keys, or a key with fewer than 30 rewards', () => {
    const random = new Random(5);
    expect(consensusFlags([...log(random, 'a', 500), ...log(random, 'b', 500, 1)]).some((f) => f.flagged)).toBe(false);
    const few = consensusFlags([...honestKeys(random, 4, 400), ...log(random, 'few', 20, 1)]);
    expect(few.find((f) => f.keyId === 'few')).toMatchObject({ events: 20, flagged: false });
    expect(few.some((f) => f.flagged)).toBe(false);
  });
});

it('inStableOrder: by key id, then event id, whatever order the events arrived in', () => {
  const arrived = [{ keyId: 'k_b', eventId: 'h1-2' }, { keyId: 'k_a', eventId: 'h1-9' }, { eventId: 'old' }, { keyId: 'k_a', eventId: 'h1-10' }, { keyId: 'k_b', eventId: 'h1-1' }];
  const expected = [{ eventId: 'old' }, { keyId: 'k_a', eventId: 'h1-10' }, { keyId: 'k_a', eventId: 'h1-9' }, { keyId: 'k_b', eventId: 'h1-1' }, { keyId: 'k_b', eventId: 'h1-2' }];
  expect(inStableOrder(arrived)).toEqual(expected);
  expect(inStableOrder([...arrived].reverse())).toEqual(expected);
});
