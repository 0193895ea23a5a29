// Self-training: which unlabelled images each round takes (exact cases), and the rounds on the GPU read no label but
// the labelled images'.
import { describe, expect, it } from 'vitest';
import {
  balancedProbabilities, buildNetwork, confidentPicks, initialParameters, loadMnist, Model, roundFractions, SEED_ARCHITECTURE, selfTrain, softmaxRows, subset, withProjectionHead, type MnistSplit,
} from '@seed/runtime';
import { testGpus } from '../support/gpu';

describe('balancedProbabilities', () => {
  // Four rows, two classes: class 0 wins every row, though rows 2 and 3 only barely.
  const swallowed = [0.9, 0.1, 0.8, 0.2, 0.6, 0.4, 0.55, 0.45];
  const columnSums = (q: Float32Array, classes: number) => Array.from({ length: classes }, (_, k) => q.filter((_, i) => i % classes === k).reduce((a, b) => a + b, 0));

  it('gives each class its share of the rows, and the rows class 0 barely won go to class 1', () => {
    const q = balancedProbabilities(swallowed, 4, 2);
    columnSums(q, 2).forEach((sum) => expect(sum).toBeCloseTo(2, 4));
    for (let i = 0; i < 4; i++) expect(q[2 * i] + q[2 * i + 1]).toBeCloseTo(1, 6);
    expect([0, 1, 2, 3].map((i) => (q[2 * i + 1] > q[2 * i] ? 1 : 0))).toEqual([0, 0, 1, 1]);
  });

  it('reweights per class only: the odds of every row change by the same factor', () => {
    const q = balancedProbabilities(swallowed, 4, 2);
    const factors = [0, 1, 2, 3].map((i) => (q[2 * i + 1] / q[2 * i]) / (swallowed[2 * i + 1] / swallowed[2 * i]));
    for (const f of factors) expect(f).toBeCloseTo(factors[0], 3);
    expect(factors[0]).toBeGreaterThan(1);
  });

  it('leaves probabilities that already hold the prior as they are, and follows a prior that is not uniform', () => {
    const even = [0.7, 0.3, 0.3, 0.7];
    Array.from(balancedProbabilities(even, 2, 2)).forEach((v, i) => expect(v).toBeCloseTo(even[i], 6));
    const q = balancedProbabilities(swallowed, 4, 2, { prior: [1, 3] });
    const [a, b] = columnSums(q, 2);
    expect(a).toBeCloseTo(1, 4);
    expect(b).toBeCloseTo(3, 4);
  });

  it('refuses a wrong size or a prior without a positive share per class', () => {
    expect(() => balancedProbabilities([0.5, 0.5, 1], 2, 2)).toThrow(/2×2/);
    expect(() => balancedProbabilities(swallowed, 4, 2, { prior: [1, 0] })).toThrow(/prior/);
    expect(() => balancedProbabilities(swallowed, 4, 2, { prior: [1] })).toThrow(/prior/);
  });
});

describe('confidentPicks', () => {
  // Six rows, three classes: rows 0, 1, 4 say class 0 (0.9, 0.6, 0.7), rows 2, 5 class 2 (0.5, 0.8), row 3 class 1.
  const probabilities = [
    0.9, 0.05, 0.05,
    0.6, 0.3, 0.1,
    0.2, 0.3, 0.5,
    0.1, 0.8, 0.1,
    0.7, 0.2, 0.1,
    0.1, 0.1, 0.8,
  ];

  it('takes the surest share of each class the model gives, ordered by class then by falling probability', () => {
    expect(confidentPicks(probabilities, 6, 3, 1)).toEqual([
      { index: 0, label: 0 }, { index: 4, label: 0 }, { index: 1, label: 0 }, { index: 3, label: 1 }, { index: 5, label: 2 }, { index: 2, label: 2 },
    ]);
    // Half of each class, rounded: 2 of class 0's 3 (round(1.5)), 1 of class 1's 1 (round(0.5)), 1 of class 2's 2.
    expect(confidentPicks(probabilities, 6, 3, 0.5)).toEqual([{ index: 0, label: 0 }, { index: 4, label: 0 }, { index: 3, label: 1 }, { index: 5, label: 2 }]);
    expect(confidentPicks(probabilities, 6, 3, 0)).toEqual([]);
  });

  it('a class the model is less sure of keeps its share beside a sure one', () => {
    // Class 1's rows (0.4, 0.45) are less sure than every row of class 0 (0.9, 0.95, 0.99, 0.97): a global threshold
    // taking the surest half would take class 0 only.
    const rows = [[0.9, 0.05], [0.95, 0.03], [0.3, 0.4], [0.99, 0.01], [0.97, 0.02], [0.35, 0.45]].flatMap(([a, b]) => [a, b, 1 - a - b]);
    expect(confidentPicks(rows, 6, 3, 0.5)).toEqual([{ index: 3, label: 0 }, { index: 4, label: 0 }, { index: 5, label: 1 }]);
  });

  it('leaves the skipped rows out (the labelled images)', () => {
    expect(confidentPicks(probabilities, 6, 3, 1, new Set([0, 5])).map((p) => p.index)).toEqual([4, 1, 3, 2]);
  });

  it('ties keep the lower index first', () => {
    expect(confidentPicks([0.5, 0.5, 0.5, 0.5].flatMap((p) => [p, 1 - p - 0.1, 0.1]), 4, 3, 0.5)).toEqual([{ index: 0, label: 0 }, { index: 1, label: 0 }]);
  });

  it('refuses probabilities of the wrong size and a share outside [0, 1]', () => {
    expect(() => confidentPicks(probabilities, 5, 3, 0.5)).toThrow(/expected 5×3 probabilities, got 18/);
    expect(() => confidentPicks(probabilities, 6, 3, 1.5)).toThrow(/fraction must be in \[0, 1\]/);
    expect(() => confidentPicks(probabilities, 6, 3, Number.NaN)).toThrow(/fraction/);
  });
});

describe('roundFractions', () => {
  it('rises evenly from the first share to the last', () => {
    const fractions = roundFractions(5);
    [0.5, 0.6, 0.7, 0.8, 0.9].forEach((f, i) => expect(fractions[i]).toBeCloseTo(f, 12));
    expect(roundFractions(1)).toEqual([0.9]);
    expect(roundFractions(2, 0.2, 0.4)).toEqual([0.2, 0.4]);
    expect(() => roundFractions(0)).toThrow(/rounds must be a positive integer/);
  });
});

const { train, test } = loadMnist();
const small: MnistSplit = { train: subset(train, Array.from({ length: 300 }, (_, i) => i)), test: subset(test, Array.from({ length: 200 }, (_, i) => i)) };
const network = buildNetwork(withProjectionHead(SEED_ARCHITECTURE, buildNetwork(SEED_ARCHITECTURE).features, 16));
const labelled = Array.from({ length: 30 }, (_, i) => i);
const plan = { labelled, rounds: 2, epochs: 1, alpha: 0.2, batch: 32, lr: 2e-3, seed: 3, repeat: 2 };

describe.each(testGpus)('selfTrain on $backend', ({ cache }) => {
  // Without and with the picks ranked by class-balanced probabilities.
  it.each([false, true])('each round trains on the picks of the model it starts from, and reads no label but the labelled images (balance: %s)', async (balance) => {
    const start = initialParameters(network, 5);
    const run = async (split: MnistSplit) => {
      const model = new Model(cache, network, start);
      const own = softmaxRows(await model.logits(split.train.images, split.train.count), split.train.count, 10);
      const first = balance ? balancedProbabilities(own, split.train.count, 10) : own;
      const result = await selfTrain(model, split, { ...plan, balance });
      const tensors = await model.tensors();
      await model.destroy();
      return { first, result, tensors };
    };
    const truth = await run(small);
    // The same images with every unlabelled image's label scrambled: nothing may change.
    const scrambled: MnistSplit = { ...small, train: { ...small.train, labels: small.train.labels.map((label, i) => (i < labelled.length ? label : (label + 1 + (i % 9)) % 10)) } };
    const blind = await run(scrambled);

    expect(truth.result.rounds.map((r) => r.fraction)).toEqual([0.5, 0.9]);
    expect(truth.result.rounds[0].picks).toEqual(confidentPicks(truth.first, 300, 10, 0.5, new Set(labelled)));
    expect(truth.result.rounds[0].picks.every((p) => p.index >= labelled.length)).toBe(true);
    expect(truth.result.rounds[1].picks.length).toBeGreaterThan(truth.result.rounds[0].picks.length);
    expect(blind.result.rounds.map((r) => r.picks)).toEqual(truth.result.rounds.map((r) => r.picks));
    for (const [name, values] of truth.tensors) expect(blind.tensors.get(name), name).toEqual(values);
    expect(truth.result.records.length).toBeGreaterThanOrEqual(2);
    expect(truth.result.testAccuracy).toBe(truth.result.rounds[1].testAccuracy);
  });

  it('refuses a run with no labelled image', async () => {
    const model = new Model(cache, network, initialParameters(network, 5));
    await expect(selfTrain(model, small, { ...plan, labelled: [] })).rejects.toThrow(/at least one labelled image/);
    await model.destroy();
  });
});
