// The gate's statistics: the doubly robust terms against exact enumeration, the clustered variance by hand, the
// betting bounds' coverage and the comparison's coverage and bias over seeded replays with a known truth.
import {
  BET_CAP, bettingLowerBound, challengerMixture, clusteredMean, comparePolicies, doublyRobustTerm, eventsNeeded, fitLabelPrior, gateDecision, nextCandidate, HELD_OUT_MODULUS, imageHash, isHeldOut,
  labelledIndices, leaveOneOutTerms, namedImages, neighbourVoter, digitVoter, uprightDigit, uprightDigits, normalQuantile, posteriorTerms, Random, replayEvents, replayStudy, rewardEvidence, trueDifference, type ComparisonEvent, type Digits, type PairedEstimate,
  type ReplayImage,
} from '@seed/runtime';
import { describe, expect, it } from 'vitest';

/** An ε-greedy distribution over K actions around `best`. */
const epsilonGreedy = (best: number, epsilon = 0.1, classes = 10) => Float64Array.from({ length: classes }, (_, a) => epsilon / classes + (a === best ? 1 - epsilon : 0));

/** A softmax-like row that puts most mass on `best` and some on `second`. */
function probabilityRow(best: number, second: number, random: Random, classes = 10): Float64Array {
  const row = Float64Array.from({ length: classes }, () => 0.02 * random.next());
  row[best] += 0.5 + 0.4 * random.next();
  row[second] += 0.3 * random.next();
  const total = row.reduce((a, b) => a + b, 0);
  return row.map((p) => p / total);
}

/**
 * Evaluation images of two policies that disagree on a share `disagreement` of them; where they do, the candidate is
 * right with probability `candidateWins` and the active model otherwise; logged with the candidate as challenger.
 */
function syntheticImages(count: number, disagreement: number, candidateWins: number, seed: number, share = 0.5): ReplayImage[] {
  const random = new Random(seed);
  return Array.from({ length: count }, (_, i) => {
    const label = random.int(10);
    const wrong = (label + 1 + random.int(9)) % 10;
    let activeAction = random.next() < 0.97 ? label : wrong;
    let candidateAction = activeAction;
    if (random.next() < disagreement) {
      const candidateRight = random.next() < candidateWins;
      candidateAction = candidateRight ? label : wrong;
      activeAction = candidateRight ? wrong : label;
    }
    const active = epsilonGreedy(activeAction);
    const { distribution } = challengerMixture(active, epsilonGreedy(candidateAction), candidateAction !== activeAction, share);
    return {
      cluster: i, label, logging: distribution, candidateAction, activeAction,
      candidateProbabilities: probabilityRow(candidateAction, activeAction, random), activeProbabilities: probabilityRow(activeAction, candidateAction, random),
    };
  });
}

describe('the doubly robust term', () => {
  it('has expectation q(x, c) − q(x, b) for any reward model, by exact enumeration of actions and rewards', () => {
    const random = new Random(5);
    for (let trial = 0; trial < 50; trial++) {
      const classes = 4;
      const logging = Float64Array.from({ length: classes }, () => 0.05 + random.next());
      const sum = logging.reduce((a, b) => a + b, 0);
      logging.forEach((p, a) => (logging[a] = p / sum));
      const rewardProbability = Array.from({ length: classes }, () => random.next());
      const candidateAction = random.int(classes);
      const activeAction = random.int(classes);
      const guess = Array.from({ length: classes }, () => random.next());
      const model = (_: ComparisonEvent, a: number) => guess[a];
      let expectation = 0;
      for (let action = 0; action < classes; action++) {
        for (const [reward, chance] of [[1, rewardProbability[action]], [0, 1 - rewardProbability[action]]]) {
          const event: ComparisonEvent = {
            cluster: 0, action, propensity: logging[action], reward, candidateAction, activeAction,
            maxWeight: 1 / Math.min(logging[candidateAction], logging[activeAction]), candidateProbabilities: logging, activeProbabilities: logging,
          };
          const { direct, correction, low, high } = doublyRobustTerm(event, model);
          expectation += logging[action] * chance * (direct + correction);
          // The range is known before the action is drawn, and holds for every action and reward.
          expect(low).toBeLessThanOrEqual(Math.min(0, correction) + 1e-12);
          expect(high).toBeGreaterThanOrEqual(Math.max(0, correction) - 1e-12);
        }
      }
      expect(expectation).toBeCloseTo(rewardProbability[candidateAction] - rewardProbability[activeAction], 12);
    }
  });

  it('has a range with one side at 0 where r̂ is sure which of the two is right, and the full weight on the other', () => {
    const event: ComparisonEvent = { cluster: 1, action: 2, propensity: 0.5, reward: 1, candidateAction: 2, activeAction: 4, maxWeight: 2, candidateProbabilities: [], activeProbabilities: [] };
    // r̂ sure the active model is right: the correction can only rise (the candidate's action rewarded, or the active's not).
    expect(doublyRobustTerm(event, (_, a) => (a === 4 ? 1 : 0))).toMatchObject({ low: 0, high: 2 });
    // Sure the candidate is right: it can only fall.
    expect(doublyRobustTerm(event, (_, a) => (a === 2 ? 1 : 0))).toMatchObject({ low: -2, high: 0 });
    // Unsure: both ways, by the largest weight times the distance to the far end of the reward range.
    expect(doublyRobustTerm(event, () => 0.25)).toMatchObject({ low: -1.5, high: 1.5 });
  });

  it('is 0 where the two policies agree, whatever the reward', () => {
    const event: ComparisonEvent = { cluster: 1, action: 3, propensity: 0.01, reward: 1, candidateAction: 2, activeAction: 2, maxWeight: 1, candidateProbabilities: [], activeProbabilities: [] };
    expect(doublyRobustTerm(event, () => 0.3)).toEqual({ direct: 0, correction: 0, low: 0, high: 0 });
  });
});

describe('the label-posterior reward model', () => {
  /**
   * A small random problem: `count` events on `images` images that all disagree, each image with a reward probability
   * for every action (stochastic rewards, so a client's mistakes are covered too) and a random logging distribution.
   */
  function problem(random: Random, images: number, count: number, classes = 4, withReference = false) {
    const pictures = Array.from({ length: images }, (_, cluster) => {
      const logging = Float64Array.from({ length: classes }, () => 0.1 + random.next());
      const total = logging.reduce((a, b) => a + b, 0);
      const candidateAction = random.int(classes);
      const activeAction = (candidateAction + 1 + random.int(classes - 1)) % classes;
      const row = () => {
        const r = Float64Array.from({ length: classes }, () => 0.05 + random.next());
        const sum = r.reduce((a, b) => a + b, 0);
        return r.map((p) => p / sum);
      };
      return {
        cluster: 1000 + cluster, logging: logging.map((p) => p / total), candidateAction, activeAction, candidateProbabilities: row(), activeProbabilities: row(),
        rewardProbability: Array.from({ length: classes }, () => random.next()),
        // A third opinion on some images only, as the main job has one only where the models disagree.
        referenceProbabilities: withReference && random.next() < 0.75 ? row() : undefined,
      };
    });
    const order = Array.from({ length: count }, () => pictures[random.int(images)]);
    const event = (p: (typeof pictures)[number], action: number, reward: number): ComparisonEvent => ({
      cluster: p.cluster, action, propensity: p.logging[action], reward, candidateAction: p.candidateAction, activeAction: p.activeAction, maxWeight: 10,
      candidateProbabilities: p.candidateProbabilities, activeProbabilities: p.activeProbabilities,
      ...(p.referenceProbabilities && { referenceProbabilities: p.referenceProbabilities }),
    });
    const draw = (p: (typeof pictures)[number]) => {
      const action = random.int(classes);
      return event(p, action, random.next() < p.rewardProbability[action] ? 1 : 0);
    };
    return { pictures, order, event, events: order.map(draw), classes };
  }

  it('gives each term expectation r(x, c) − r(x, b) given every other event (leave one out) or the earlier ones (predictable), by exact enumeration', () => {
    const random = new Random(21);
    for (let trial = 0; trial < 40; trial++) {
      // 14 events on 4 images: the predictable prior is refitted (at 8) before the last event, and images come back.
      // Every other trial gives most images a reference, whose exponent the prior fits too.
      const { order, event, events, classes } = problem(random, 4, 14, 4, trial % 4 >= 2);
      const target = trial % 2 === 0 ? events.length - 1 : random.int(events.length);
      const picture = order[target];
      let looExpectation = 0;
      let earlierExpectation = 0;
      for (let action = 0; action < classes; action++) {
        for (const [reward, chance] of [[1, picture.rewardProbability[action]], [0, 1 - picture.rewardProbability[action]]]) {
          const replaced = events.map((e, i) => (i === target ? event(picture, action, reward) : e));
          const weight = picture.logging[action] * chance;
          const loo = leaveOneOutTerms(replaced)[target];
          looExpectation += weight * (loo.direct + loo.correction);
          if (target === events.length - 1) {
            const earlier = posteriorTerms(replaced, [0, 1], true)[target];
            earlierExpectation += weight * (earlier.direct + earlier.correction);
          }
        }
      }
      const truth = picture.rewardProbability[picture.candidateAction] - picture.rewardProbability[picture.activeAction];
      expect(looExpectation, `trial ${trial}`).toBeCloseTo(truth, 10);
      if (target === events.length - 1) expect(earlierExpectation, `trial ${trial}`).toBeCloseTo(truth, 10);
    }
  });

  it('gives Δ̂ expectation equal to the true difference over every action and reward of every event, in each mode', () => {
    const random = new Random(22);
    for (let trial = 0; trial < 6; trial++) {
      // 3 events on 2 images, 3 actions: all 6³ outcomes of the whole log; half the trials with references, and in
      // trials 2–5 rewards from outside the evaluation on the first image (fixed: not drawn with the log).
      const { pictures, order, event: inside, classes } = problem(random, 2, 3, 3, trial % 2 === 1);
      const outside = rewardEvidence([{ action: random.int(3), reward: random.int(2) }, { action: random.int(3), reward: random.int(2) }], [0, 1], 3);
      const event = (p: (typeof order)[number], action: number, reward: number): ComparisonEvent =>
        trial >= 2 && p === pictures[0] ? { ...inside(p, action, reward), outsideEvidence: outside } : inside(p, action, reward);
      const truth = order.reduce((s, p) => s + p.rewardProbability[p.candidateAction] - p.rewardProbability[p.activeAction], 0) / order.length;
      for (const evidence of ['others', 'earlier', 'none'] as const) {
        let expectation = 0;
        const walk = (i: number, sofar: ComparisonEvent[], weight: number) => {
          if (i === order.length) {
            expectation += weight * comparePolicies(sofar, { evidence }).value;
            return;
          }
          const p = order[i];
          for (let action = 0; action < classes; action++) {
            walk(i + 1, [...sofar, event(p, action, 1)], weight * p.logging[action] * p.rewardProbability[action]);
            walk(i + 1, [...sofar, event(p, action, 0)], weight * p.logging[action] * (1 - p.rewardProbability[action]));
          }
        };
        walk(0, [], 1);
        expect(expectation, `${evidence}, trial ${trial}`).toBeCloseTo(truth, 10);
      }
      expect(pictures).toHaveLength(2);
    }
  });

  it('makes a term exact once a reward outside the evaluation named its digit', () => {
    const random = new Random(24);
    const { pictures, event, classes } = problem(random, 1, 1);
    const p = pictures[0];
    const outsideEvidence = rewardEvidence([{ action: p.candidateAction, reward: 1 }], [0, 1], classes);
    for (let action = 0; action < classes; action++) {
      const reward = action === p.candidateAction ? 1 : 0;
      const [term] = leaveOneOutTerms([{ ...event(p, action, reward), outsideEvidence }]);
      expect(Math.abs(term.direct + term.correction - 1)).toBeLessThan(0.03);
      // Sure the candidate is right: the correction can fall by a whole weight, and rise by almost nothing.
      expect(term.high / -term.low).toBeLessThan(0.01);
    }
  });

  it('makes a term exact once another event of the same image named its digit', () => {
    const random = new Random(23);
    const { pictures, event, classes } = problem(random, 1, 1);
    const p = pictures[0];
    // The digit is the candidate's action: another event of the image was rewarded there.
    const named = event(p, p.candidateAction, 1);
    for (let action = 0; action < classes; action++) {
      const reward = action === p.candidateAction ? 1 : 0;
      const [, term] = leaveOneOutTerms([named, event(p, action, reward)]);
      expect(Math.abs(term.direct + term.correction - 1)).toBeLessThan(0.03);
      const [prior] = leaveOneOutTerms([event(p, action, reward)]);
      if (action === p.candidateAction) expect(Math.abs(prior.direct + prior.correction - 1)).toBeGreaterThan(0.05);
    }
  });
});

describe('the clustered variance', () => {
  it('adds deviations within an image before squaring (by hand)', () => {
    // Mean 1; cluster sums of deviations 0, −2, 2; G/(G−1) · Σ s² / n = 1.5 · 8 / 4.
    expect(clusteredMean([1, 1, -1, 3], [0, 0, 1, 2])).toEqual({ mean: 1, variance: 3, clusters: 3 });
    // One event per image: the usual variance with divisor n − 1.
    const terms = [0.5, -1, 2, 0.25, 1];
    const mean = terms.reduce((a, b) => a + b, 0) / 5;
    expect(clusteredMean(terms, [0, 1, 2, 3, 4]).variance).toBeCloseTo(terms.reduce((s, t) => s + (t - mean) ** 2, 0) / 4, 12);
  });
});

describe('the betting confidence sequence', () => {
  it('covers the mean of Bernoulli observations in at least 1 − α of 1,000 seeded replays, at small and large counts', () => {
    for (const [n, p] of [[20, 0.3], [300, 0.05]] as const) {
      const random = new Random(n);
      let covered = 0;
      for (let replay = 0; replay < 1000; replay++) {
        const xs = Float64Array.from({ length: n }, () => (random.next() < p ? 1 : 0));
        if (bettingLowerBound(xs, 0.05, n) <= p) covered++;
      }
      expect(covered / 1000, `n ${n}`).toBeGreaterThanOrEqual(0.95);
    }
  });

  it('with the lower end of each observation known in advance, still covers in at least 1 − α of 1,000 replays, and is tighter', () => {
    // Half the observations can fall to 0, half only to 0.45, each with chance 1/50; every one has mean 0.5. They
    // barely vary, so bets tuned for a short horizon (30) reach the cap, which the known ends raise.
    for (const n of [20, 300]) {
      const random = new Random(n + 7);
      const lows = Float64Array.from({ length: n }, (_, i) => (i % 2 === 0 ? 0 : 0.45));
      let covered = 0;
      let withLows = 0;
      let without = 0;
      for (let replay = 0; replay < 1000; replay++) {
        const xs = lows.map((low) => (random.next() < 0.02 ? low : (0.5 - 0.02 * low) / 0.98));
        const bound = bettingLowerBound(xs, 0.05, 30, lows);
        if (bound <= 0.5) covered++;
        withLows += bound;
        without += bettingLowerBound(xs, 0.05, 30);
      }
      expect(covered / 1000, `n ${n}`).toBeGreaterThanOrEqual(0.95);
      // The mean distance below 0.5: 0.0046 with the ends against 0.0110 without at n = 300 (0.079 and 0.097 at 20).
      if (n > 100) expect(0.5 - withLows / 1000, `n ${n}`).toBeLessThan(0.6 * (0.5 - without / 1000));
    }
    // Observations that sit at their mean: the floor shrinks with the room below them.
    const flat = new Float64Array(1000).fill(0.5);
    const gap = 0.5 - bettingLowerBound(flat, 0.05, 200);
    expect(0.5 - bettingLowerBound(flat, 0.05, 200, new Float64Array(1000).fill(0.25))).toBeLessThan(0.6 * gap);
  });

  it('tightens with more observations and never passes the sample mean', () => {
    const random = new Random(3);
    const xs = Float64Array.from({ length: 4000 }, () => 0.4 + 0.2 * random.next());
    const bounds = [100, 1000, 4000].map((n) => bettingLowerBound(xs.subarray(0, n), 0.05, n));
    expect(bounds[0]).toBeLessThan(bounds[1]);
    expect(bounds[1]).toBeLessThan(bounds[2]);
    expect(bounds[2]).toBeLessThan(0.5);
    expect(bounds[2]).toBeGreaterThan(0.49);
  });
});

describe('comparing two policies over seeded replays with a known truth', () => {
  const images = syntheticImages(4000, 0.05, 0.7, 11);
  const truth = trueDifference(images);
  const replays = (count: number, seed: number) => {
    const random = new Random(seed);
    return Array.from({ length: count }, () => comparePolicies(replayEvents(images, random, 0.02)));
  };

  it('the lower and upper bounds each cover the true difference in at least 95% of 400 replays, and the estimate is unbiased', () => {
    expect(truth).toBeGreaterThan(0.01);
    const estimates = replays(400, 1);
    expect(estimates.filter((e) => e.lower <= truth).length / 400).toBeGreaterThanOrEqual(0.95);
    expect(estimates.filter((e) => e.upper >= truth).length / 400).toBeGreaterThanOrEqual(0.95);
    const mean = estimates.reduce((s, e) => s + e.value, 0) / 400;
    const spread = Math.sqrt(estimates.reduce((s, e) => s + (e.value - mean) ** 2, 0) / 399);
    expect(Math.abs(mean - truth)).toBeLessThan((3 * spread) / Math.sqrt(400));
    // replayStudy counts the same replays (same seed) the same way.
    const study = replayStudy(images, { replays: 400, seed: 1, dropRate: 0.02 });
    expect(study).toMatchObject({ truth, replays: 400, coverage: estimates.filter((e) => e.lower <= truth).length / 400, promotionRate: estimates.filter((e) => e.lower > 0).length / 400,
      detectableRate: estimates.filter((e) => e.lower > truth - 0.005).length / 400,
    });
  });

  it('a study judged at several looks ends with the same estimates, and covers only where every look covers', () => {
    const pool = images.slice(0, 1500);
    const once = replayStudy(pool, { replays: 40, seed: 8, dropRate: 0.02 });
    const thrice = replayStudy(pool, { replays: 40, seed: 8, dropRate: 0.02, looks: 3 });
    expect(thrice).toMatchObject({ truth: once.truth, promotionRate: once.promotionRate, meanEstimate: once.meanEstimate });
    expect(thrice.coverage).toBeLessThanOrEqual(once.coverage);
    expect(thrice.coverage).toBeGreaterThanOrEqual(0.95);
  });

  it('where images come back (so the posterior reads their other rewards), both bounds still cover in at least 95% of 300 replays, without bias, and tighter', () => {
    const random = new Random(6);
    const pool = syntheticImages(700, 0.08, 0.7, 12);
    const evaluation = Array.from({ length: 2100 }, () => pool[random.int(pool.length)]);
    const poolTruth = trueDifference(evaluation);
    expect(poolTruth).toBeGreaterThan(0.01);
    const estimates = Array.from({ length: 300 }, () => comparePolicies(replayEvents(evaluation, random, 0.02)));
    expect(estimates.filter((e) => e.lower <= poolTruth).length / 300).toBeGreaterThanOrEqual(0.95);
    expect(estimates.filter((e) => e.upper >= poolTruth).length / 300).toBeGreaterThanOrEqual(0.95);
    const mean = estimates.reduce((s, e) => s + e.value, 0) / 300;
    const spread = Math.sqrt(estimates.reduce((s, e) => s + (e.value - mean) ** 2, 0) / 299);
    expect(Math.abs(mean - poolTruth)).toBeLessThan((3 * spread) / Math.sqrt(300));
    // Reading the image's other rewards makes most terms exact: the bounds are narrower than with the prior alone.
    const alone = Array.from({ length: 50 }, () => comparePolicies(replayEvents(evaluation, random, 0.02), { evidence: 'none' }));
    const width = (list: PairedEstimate[]) => list.reduce((s, e) => s + e.upper - e.lower, 0) / list.length;
    expect(width(estimates)).toBeLessThan(0.8 * width(alone));
  });

  it('the clustered standard error describes the spread across replays that also draw new images, repeated ones included', () => {
    const random = new Random(4);
    const estimates = Array.from({ length: 200 }, (_, replay) => {
      const fresh = syntheticImages(1000, 0.05, 0.7, 100 + replay);
      // Each image shown twice: the events of one image are not independent, and the clustering must see it.
      return comparePolicies(replayEvents([...fresh, ...fresh], random, 0.02));
    });
    const mean = estimates.reduce((s, e) => s + e.value, 0) / estimates.length;
    const spread = Math.sqrt(estimates.reduce((s, e) => s + (e.value - mean) ** 2, 0) / (estimates.length - 1));
    const typicalError = Math.sqrt(estimates.reduce((s, e) => s + e.standardError ** 2, 0) / estimates.length);
    expect(typicalError / spread).toBeGreaterThan(0.85);
    expect(typicalError / spread).toBeLessThan(1.15);
  });

  it('the events the power formula asks for promote a better candidate in at least 80% of replays', () => {
    const [first] = replays(1, 2);
    const needed = eventsNeeded(first.conditionalVariance, truth, 0.05, 0.8, first.downsideBound);
    expect(needed).toBeGreaterThan(eventsNeeded(first.conditionalVariance, truth));
    expect(needed).toBeLessThan(8000);
    // The evaluation draws its images with replacement, as clients do; a candidate `truth` better than the active model
    // on the pool is promoted when the lower bound is above the pool's difference minus `truth`.
    const random = new Random(3);
    const pool = Array.from({ length: needed }, () => images[random.int(images.length)]);
    const margin = trueDifference(pool) - truth;
    const promoted = Array.from({ length: 100 }, () => comparePolicies(replayEvents(pool, random, 0.02)).lower > margin).filter(Boolean).length;
    expect(promoted / 100).toBeGreaterThanOrEqual(0.8);
  });
});

describe('a reference in the reward model (the digits of the nearest named training images)', () => {
  /** The images with a reference row that puts `confidence` on the digit in a share `right` of them, on a wrong one otherwise. */
  function withReference(images: ReplayImage[], right: number, confidence: number, seed: number): ReplayImage[] {
    const random = new Random(seed);
    return images.map((image) => {
      const named = random.next() < right ? image.label : (image.label + 1 + random.int(9)) % 10;
      const referenceProbabilities = Float64Array.from({ length: 10 }, (_, a) => (a === named ? confidence : (1 - confidence) / 9));
      return { ...image, referenceProbabilities };
    });
  }
  // Each image once, so the posterior has the prior alone: where the reference matters most.
  const images = syntheticImages(3000, 0.06, 0.7, 31);
  const truth = trueDifference(images);
  const estimates = (evaluation: ReplayImage[], count: number, seed: number) => {
    const random = new Random(seed);
    return Array.from({ length: count }, () => comparePolicies(replayEvents(evaluation, random, 0.02)));
  };
  const meanOf = (list: PairedEstimate[], key: 'value' | 'conditionalVariance') => list.reduce((sum, e) => sum + e[key], 0) / list.length;

  it('a reference right on 85% of images cuts the corrections\' variance, and both bounds still cover without bias', () => {
    const good = estimates(withReference(images, 0.85, 0.9, 1), 300, 5);
    const none = estimates(images, 100, 5);
    expect(meanOf(good, 'conditionalVariance')).toBeLessThan(0.6 * meanOf(none, 'conditionalVariance'));
    expect(good.filter((e) => e.lower <= truth).length / good.length).toBeGreaterThanOrEqual(0.95);
    expect(good.filter((e) => e.upper >= truth).length / good.length).toBeGreaterThanOrEqual(0.95);
    const spread = Math.sqrt(good.reduce((sum, e) => sum + (e.value - meanOf(good, 'value')) ** 2, 0) / (good.length - 1));
    expect(Math.abs(meanOf(good, 'value') - truth)).toBeLessThan((3 * spread) / Math.sqrt(good.length));
  });

  it('a reference that names a wrong digit every time (a hostile one) costs power, not coverage: the bounds still cover without bias', () => {
    const hostile = estimates(withReference(images, 0, 0.9, 2), 300, 6);
    expect(hostile.filter((e) => e.lower <= truth).length / hostile.length).toBeGreaterThanOrEqual(0.95);
    expect(hostile.filter((e) => e.upper >= truth).length / hostile.length).toBeGreaterThanOrEqual(0.95);
    const spread = Math.sqrt(hostile.reduce((sum, e) => sum + (e.value - meanOf(hostile, 'value')) ** 2, 0) / (hostile.length - 1));
    expect(Math.abs(meanOf(hostile, 'value') - truth)).toBeLessThan((3 * spread) / Math.sqrt(hostile.length));
  });

  it('fits a large exponent to a reference that knows the digit, and about none to one that knows nothing', () => {
    const random = new Random(9);
    const disagreeing = (evaluation: ReplayImage[]) => replayEvents(evaluation, random, 0).filter((e) => e.candidateAction !== e.activeAction).map((event) => ({ event, u: event.reward }));
    const [, , knows] = fitLabelPrior(disagreeing(withReference(images, 0.95, 0.9, 3)));
    const [, , guesses] = fitLabelPrior(disagreeing(withReference(images, 0.1, 0.9, 4)));
    expect(knows).toBeGreaterThan(0.8);
    expect(guesses).toBeLessThan(0.2);
  });
});

describe('neighbour labels and named images', () => {
  it('votes the digits of the k nearest references by cosine, smoothed, and refuses bad input', () => {
    // Four references in the plane: two of digit 0 along x, one of digit 1 along y, one of digit 2 at 45°.
    const references = [1, 0, 2, 0.1, 0, 1, 1, 1];
    const labels = [0, 0, 1, 2];
    // One query through a voter over `refs` (2-D rows, 3 digits).
    const vote = (query: number[], options: { k?: number; smoothing?: number }, refs = references, labs = labels) => Array.from(neighbourVoter(refs, labs, 2, 3, options)([query])[0]);
    const [a, b] = [vote([3, 0.2], { k: 1, smoothing: 0.5 }), vote([0.1, 1], { k: 3, smoothing: 0.5 })];
    // k = 1: the nearest by angle to (3, 0.2) is (2, 0.1); votes (1 + 0.5, 0.5, 0.5) / 2.5.
    expect(a).toEqual([0.6, 0.2, 0.2].map((v) => expect.closeTo(v, 12)));
    // k = 3 from (0.1, 1): digit 1, then the 45° one (digit 2), then the nearer of the x-axis pair, (2, 0.1).
    expect(b).toEqual([1.5 / 4.5, 1.5 / 4.5, 1.5 / 4.5].map((v) => expect.closeTo(v, 12)));
    // One voter answers several queries as it answers each alone (the main job asks for every disagreeing image at once).
    expect(neighbourVoter(references, labels, 2, 3, { k: 3, smoothing: 0.5 })([[3, 0.2], [0.1, 1]]).map((row) => Array.from(row))).toEqual([
      vote([3, 0.2], { k: 3, smoothing: 0.5 }), b,
    ]);
    // Scaling a query changes nothing (cosine); equal similarities go to the earlier row.
    expect(vote([30, 2], { k: 1 })).toEqual(vote([3, 0.2], { k: 1 }));
    expect(vote([1, 0], { k: 1, smoothing: 1 }, [1, 0, 1, 0], [2, 1])).toEqual([0.25, 0.25, 0.5]);
    expect(() => vote([1, 0], { k: 5 })).toThrow(/k must be/);
    expect(() => vote([1, 0], { k: 1 }, references, [0, 0, 1, 3])).toThrow(/label 3/);
    expect(() => vote([1, 0, 1], { k: 1 })).toThrow(/expected 2/);
    expect(() => vote([1, 0], { k: 1 }, [1, 0, 2])).toThrow(/need 8/);
    expect(() => vote([1, 0], { k: 1, smoothing: 0 })).toThrow(/smoothing/);
  });

  /** A 28×28 image with ink 1 where `ink(x, y)` holds. */
  const drawn = (ink: (x: number, y: number) => boolean) => Float32Array.from({ length: 784 }, (_, i) => (ink(i % 28, Math.floor(i / 28)) ? 1 : 0));
  /** Row y moved right by round(slant·(y − 13.5)) and everything by `shift` (a hand's slant, plain loops). */
  const slanted = (image: Float32Array, slant: number, shift = 0) => Float32Array.from({ length: 784 }, (_, i) => {
    const [x, y] = [i % 28, Math.floor(i / 28)];
    const from = x - shift - Math.round(slant * (y - 13.5));
    return from >= 0 && from < 28 ? image[y * 28 + from] : 0;
  });
  const moments = (image: ArrayLike<number>) => {
    let [m, mx, my] = [0, 0, 0];
    for (let i = 0; i < 784; i++) [m, mx, my] = [m + image[i], mx + image[i] * (i % 28), my + image[i] * Math.floor(i / 28)];
    const [cx, cy] = [mx / m, my / m];
    let [xx, yy, xy] = [0, 0, 0];
    for (let i = 0; i < 784; i++) {
      const [dx, dy] = [(i % 28) - cx, Math.floor(i / 28) - cy];
      [xx, yy, xy] = [xx + image[i] * dx * dx, yy + image[i] * dy * dy, xy + image[i] * dx * dy];
    }
    return { mass: m, cx, cy, correlation: xy / Math.sqrt(xx * yy) };
  };
  const cosine = (a: ArrayLike<number>, b: ArrayLike<number>) => {
    let [ab, aa, bb] = [0, 0, 0];
    for (let i = 0; i < a.length; i++) [ab, aa, bb] = [ab + a[i] * b[i], aa + a[i] * a[i], bb + b[i] * b[i]];
    return ab / Math.sqrt(aa * bb);
  };
  // A "7": a bar on top and a stroke down from its right end, away from the centre.
  const seven = drawn((x, y) => (y >= 5 && y <= 6 && x >= 6 && x <= 19) || (y > 6 && y <= 22 && Math.abs(x - (19 - 0.3 * (y - 6))) < 1));

  it('makes a digit upright and centred, keeps its ink, and leaves a blank image blank', () => {
    const leaning = slanted(seven, 0.5, 3);
    expect(Math.abs(moments(leaning).correlation)).toBeGreaterThan(0.3);
    const upright = uprightDigit(leaning);
    const after = moments(upright);
    expect(Math.abs(after.correlation)).toBeLessThan(0.05);
    expect(after.cx).toBeCloseTo(13.5, 1);
    expect(after.cy).toBeCloseTo(13.5, 1);
    expect(after.mass / moments(leaning).mass).toBeGreaterThan(0.98);
    expect(after.mass / moments(leaning).mass).toBeLessThan(1.02);
    expect(Array.from(uprightDigit(new Float32Array(784))).every((v) => v === 0)).toBe(true);
    expect(() => uprightDigit(new Float32Array(783))).toThrow(/28×28/);
    // Many images at once are each made upright alone.
    const both = uprightDigits([...seven, ...leaning]);
    expect(Array.from(both.subarray(784))).toEqual(Array.from(upright));
    expect(Array.from(both.subarray(0, 784))).toEqual(Array.from(uprightDigit(seven)));
    expect(() => uprightDigits(new Float32Array(1000))).toThrow(/whole 28×28/);
  });

  it('compares digits upright: a slanted, shifted copy is near its original, and the vote finds it where raw pixels do not', () => {
    const leaning = slanted(seven, 0.4, -4);
    expect(cosine(seven, leaning)).toBeLessThan(0.5);
    expect(cosine(uprightDigit(seven), uprightDigit(leaning))).toBeGreaterThan(0.9);
    // References: the 7 (digit 7) and a blot filling the leaning copy's bounding box (digit 0), which shares more of
    // its pixels than the upright 7 does.
    const inked = Array.from(leaning.keys()).filter((i) => leaning[i] > 0);
    const [xs, ys] = [inked.map((i) => i % 28), inked.map((i) => Math.floor(i / 28))];
    const blot = drawn((x, y) => x >= Math.min(...xs) && x <= Math.max(...xs) && y >= Math.min(...ys) && y <= Math.max(...ys));
    expect(cosine(blot, leaning)).toBeGreaterThan(cosine(seven, leaning));
    const references = [...seven, ...blot];
    const raw = neighbourVoter(references, [7, 0], 784, 10, { k: 1 })([leaning])[0];
    const upright = digitVoter(references, [7, 0], 10, { k: 1 })([leaning])[0];
    expect(raw.indexOf(Math.max(...raw))).toBe(0);
    expect(upright.indexOf(Math.max(...upright))).toBe(7);
  });

  it('keeps each image a top reward named, once, and leaves out images named two digits', () => {
    const image = (v: number) => Float32Array.from({ length: 784 }, (_, i) => (i === v ? 1 : 0));
    const { images, labels } = namedImages([
      { pixels: image(1), action: 3, reward: 1 },
      { pixels: image(1), action: 3, reward: 1 },
      { pixels: image(2), action: 4, reward: 0 },
      { pixels: image(3), action: 5, reward: 1 },
      { pixels: image(3), action: 6, reward: 1 },
      { pixels: image(4), action: 7, reward: 1 },
    ]);
    expect(Array.from(labels)).toEqual([3, 7]);
    expect(images[1]).toBe(1);
    expect(images[784 + 4]).toBe(1);
    expect(() => namedImages([{ pixels: [1, 2], action: 0, reward: 1 }])).toThrow(/784/);
  });
});

describe('the power formula', () => {
  it('uses the confidence sequence radius in place of the normal quantile', () => {
    expect(normalQuantile(0.975)).toBeCloseTo(1.959964, 6);
    expect(normalQuantile(0.8)).toBeCloseTo(0.841621, 6);
    expect(normalQuantile(0.01)).toBeCloseTo(-2.326348, 6);
    expect(eventsNeeded(0.02, 0.005, 0.05, 0.8)).toBe(Math.ceil(((Math.sqrt(2 * Math.log(20)) + 0.8416212) ** 2 * 0.02) / 0.005 ** 2));
  });

  it('adds the floor of the bounds when the corrections barely vary: δ = radius + z·σ/√n + log(1/α)·B/(cap·n)', () => {
    const n = eventsNeeded(0.005, 0.005, 0.05, 0.8, 2.2);
    const gap = (m: number) => ((Math.sqrt(2 * Math.log(20)) + 0.8416212) * Math.sqrt(0.005)) / Math.sqrt(m) + (Math.log(20) * 2.2) / (BET_CAP * m);
    expect(gap(n)).toBeLessThanOrEqual(0.005);
    expect(gap(n - 2)).toBeGreaterThan(0.005);
    expect(n).toBeGreaterThan(eventsNeeded(0.005, 0.005));
  });
});

describe('the gate decision', () => {
  const estimate = (lower: number, upper: number, n = 1000): PairedEstimate => ({ n, clusters: n, disagreements: 40, value: (lower + upper) / 2, variance: 0.02, standardError: 0.004, conditionalVariance: 0.01, lower, upper, alpha: 0.05, correctionBound: 2.2, downsideBound: 1.5 });
  const rules = { margin: 0, maxEvents: 5000 };

  it('promotes above the margin, rejects below it or when undecided too long, else gathers more events', () => {
    expect(gateDecision(estimate(0.001, 0.02), rules).decision).toBe('promote');
    expect(gateDecision(estimate(-0.02, -0.001), rules).decision).toBe('reject');
    expect(gateDecision(estimate(-0.01, 0.01), rules).decision).toBe('pending');
    expect(gateDecision(estimate(-0.01, 0.01, 5000), rules)).toMatchObject({ decision: 'reject', reason: expect.stringContaining('undecided after 5000') });
    expect(gateDecision(estimate(0.001, 0.02), { ...rules, margin: 0.005 }).decision).toBe('pending');
    expect(gateDecision(null, rules).decision).toBe('pending');
  });

  it('trains the next candidate from the active model, or while one is pending supersedes it when asked', () => {
    const on = { supersede: true, newEvents: 4000 };
    for (const decided of [null, 'promote', 'reject'] as const) {
      expect(nextCandidate(decided, estimate(0.001, 0.02), on)).toEqual({ train: true, from: 'active' });
      expect(nextCandidate(decided, null, { supersede: false, newEvents: 0 })).toEqual({ train: true, from: 'active' });
    }
    // Pending: from the pending candidate where the evidence leans its way (0 included), else from the active model.
    expect(nextCandidate('pending', estimate(-0.01, 0.03), on)).toEqual({ train: true, from: 'pending' });
    expect(nextCandidate('pending', estimate(-0.01, 0.01), on)).toEqual({ train: true, from: 'pending' });
    expect(nextCandidate('pending', estimate(-0.03, 0.01), on)).toEqual({ train: true, from: 'active' });
    // Waits: when not asked to, with no new events to learn from, or with no evidence yet.
    expect(nextCandidate('pending', estimate(-0.01, 0.03), { ...on, supersede: false }).train).toBe(false);
    expect(nextCandidate('pending', estimate(-0.01, 0.03), { ...on, newEvents: 0 }).train).toBe(false);
    expect(nextCandidate('pending', null, on).train).toBe(false);
  });
});

describe('held-out selection', () => {
  const random = new Random(9);
  const digits: Digits = { count: 2000, images: Float32Array.from({ length: 2000 * 784 }, () => random.int(256) / 255), labels: new Uint8Array(2000) };
  const image = (i: number) => digits.images.subarray(i * 784, (i + 1) * 784);

  it('holds out about one image in five, the same for the same image, another set with another salt', () => {
    const heldOut = Array.from({ length: 2000 }, (_, i) => isHeldOut(image(i)));
    expect(heldOut.filter(Boolean).length / 2000).toBeCloseTo(1 / HELD_OUT_MODULUS, 1);
    expect(isHeldOut(Float32Array.from(image(7)))).toBe(heldOut[7]);
    const salted = Array.from({ length: 2000 }, (_, i) => isHeldOut(image(i), 'secret'));
    expect(salted.filter((h, i) => h !== heldOut[i]).length).toBeGreaterThan(200);
    expect(imageHash(image(3))).not.toBe(imageHash(image(3), 'secret'));
  });

  it('a labelled warm start takes the first N images that are not held out', () => {
    const indices = labelledIndices(digits, 100);
    expect(indices).toHaveLength(100);
    expect(indices.some((i) => isHeldOut(image(i)))).toBe(false);
    expect(indices).toEqual(Array.from({ length: 2000 }, (_, i) => i).filter((i) => !isHeldOut(image(i))).slice(0, 100));
    expect(labelledIndices(digits, 100, 'secret').some((i) => isHeldOut(image(i), 'secret'))).toBe(false);
  });
});
