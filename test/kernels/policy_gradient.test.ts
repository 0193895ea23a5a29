import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { logSoftmaxRow, policyGradient, policyGradientRef, type PolicyGradientShape } from '@seed/kernels';
import { Random, runKernel } from '@seed/runtime';
import { expectClose } from '../support/compare';
import { testGpus } from '../support/gpu';
import { expectGradient, f64, numericGradient } from '../support/gradcheck';

interface PolicyGradientGolden {
  name: string;
  shape: PolicyGradientShape;
  logits: number[];
  actions: number[];
  propensities: number[];
  rewards: number[];
  loss: number[];
  gradLogits: number[];
  weights: number[];
}
const golden: PolicyGradientGolden[] = JSON.parse(readFileSync(new URL('./golden/policy_gradient.json', import.meta.url), 'utf8')).cases;

/** Logged tuples whose ratio π(a|x)/p is drawn from [0.1, 2·clip] (or [0.1, 10]), so about half of the weights clip. */
function inputs(s: PolicyGradientShape, random: Random) {
  const logits = random.floats(s.batch * s.classes, -3, 3);
  const actions = Uint32Array.from({ length: s.batch }, () => random.int(s.classes));
  const maxRatio = Number.isFinite(s.clip) ? 2 * s.clip : 10;
  const propensities = Float32Array.from({ length: s.batch }, (_, b) =>
    Math.exp(logSoftmaxRow(logits, b, s.classes)[actions[b]]) / random.uniform(0.1, maxRatio));
  const rewards = Float32Array.from({ length: s.batch }, () => random.int(2));
  // Most zero rewards are given ("not this digit"), some are defaults the complementary term must skip.
  const negatives = Float32Array.from(rewards, (r) => (r === 0 && random.next() < 0.7 ? 1 : 0));
  return { logits, actions, propensities, rewards, negatives };
}

const shapes: [string, PolicyGradientShape][] = [
  ['batch 3, 5 classes, no clipping', { batch: 3, classes: 5, baseline: 0, clip: Infinity, scale: 1, selfNormalize: false }],
  ['batch 7, 10 classes, clip 2, baseline 0.3', { batch: 7, classes: 10, baseline: 0.3, clip: 2, scale: 0.5, selfNormalize: false }],
  ['batch 7, 10 classes, clip 2, baseline 0.3, self-normalised', { batch: 7, classes: 10, baseline: 0.3, clip: 2, scale: 0.5, selfNormalize: true }],
  ['model: batch 64, 10 classes, clip 10', { batch: 64, classes: 10, baseline: 0.1, clip: 10, scale: 1 / 64, selfNormalize: false }],
  ['model: batch 64, 10 classes, clip 10, self-normalised', { batch: 64, classes: 10, baseline: 0.1, clip: 10, scale: 1 / 64, selfNormalize: true }],
  ['model: batch 61, 10 classes, clip 10, inverse-propensity weights, self-normalised', { batch: 61, classes: 10, baseline: 0.1, clip: 10, scale: 1 / 61, selfNormalize: true, weighting: 'inverse' }],
  ['batch 9, 7 classes, clip 3, inverse-propensity weights', { batch: 9, classes: 7, baseline: 0.2, clip: 3, scale: 1, selfNormalize: false, weighting: 'inverse' }],
  ['batch 13, 10 classes, clip 20, inverse-propensity weights, complementary 1', { batch: 13, classes: 10, baseline: 0, clip: 20, scale: 1 / 13, selfNormalize: false, weighting: 'inverse', complementary: 1 }],
  ['batch 67, 10 classes, clip 10, self-normalised, complementary 0.5', { batch: 67, classes: 10, baseline: 0.1, clip: 10, scale: 1, selfNormalize: true, complementary: 0.5 }],
  ['batch 3000, 10 classes, clip 5, self-normalised (one workgroup)', { batch: 3000, classes: 10, baseline: 0.5, clip: 5, scale: 1, selfNormalize: true }],
  ['batch 70000, 4 classes, clip 5 (workgroups folded into y)', { batch: 70_000, classes: 4, baseline: 0.5, clip: 5, scale: 1, selfNormalize: false }],
];

describe.each(testGpus)('policy gradient on $backend', ({ cache }) => {
  it.each(shapes)('%s', async (_, s) => {
    const t = inputs(s, new Random(s.batch * 13 + s.classes + (s.selfNormalize ? 1 : 0)));
    const outputs = { loss: s.batch, gradLogits: s.batch * s.classes, weights: s.batch };
    const { loss, gradLogits, weights } = await runKernel(cache, policyGradient, s, t, outputs);
    const ref = policyGradientRef(s, t.logits, t.actions, t.propensities, t.rewards, t.negatives);
    if (Number.isFinite(s.clip) && !s.selfNormalize) expect(ref.weights.filter((w) => w === s.clip).length, 'weights clipped').toBeGreaterThan(1);
    expectClose('policy_gradient weights', weights, ref.weights);
    expectClose('policy_gradient loss', loss, ref.loss);
    expectClose('policy_gradient gradLogits', gradLogits, ref.gradLogits);
  });

  it.each(golden.map((g) => [g.name, g] as const))('golden: %s', async (_, g) => {
    const t = {
      logits: Float32Array.from(g.logits), actions: Uint32Array.from(g.actions),
      propensities: Float32Array.from(g.propensities), rewards: Float32Array.from(g.rewards), negatives: new Float32Array(g.rewards.length),
    };
    const outputs = { loss: g.loss.length, gradLogits: g.gradLogits.length, weights: g.weights.length };
    const { loss, gradLogits, weights } = await runKernel(cache, policyGradient, g.shape, t, outputs);
    expectClose('policy_gradient weights', weights, g.weights);
    expectClose('policy_gradient loss', loss, g.loss);
    expectClose('policy_gradient gradLogits', gradLogits, g.gradLogits);
  });
});

describe('policy gradient reference', () => {
  it('inverse-propensity weights: the expected gradient over logged actions is Σ_a (r(a) − baseline)·∇log π(a)', () => {
    const random = new Random(17);
    const K = 6;
    const logits = random.floats(K, -2, 2);
    const logging = Float64Array.from(random.floats(K, 0.2, 1));
    const total = logging.reduce((a, b) => a + b, 0);
    logging.forEach((p, a) => { logging[a] = p / total; });
    const reward = Float32Array.from({ length: K }, (_, a) => (a === 2 ? 1 : random.uniform(0, 0.3)));
    const s: PolicyGradientShape = { batch: 1, classes: K, baseline: 0.25, clip: Infinity, scale: 1, selfNormalize: false, weighting: 'inverse' };
    const expected = new Float64Array(K);
    for (let a = 0; a < K; a++) {
      const { gradLogits } = policyGradientRef(s, logits, [a], [logging[a]], [reward[a]]);
      gradLogits.forEach((g, k) => { expected[k] += logging[a] * g; });
    }
    const pi = logSoftmaxRow(logits, 0, K).map(Math.exp);
    const exact = Array.from({ length: K }, (_, k) => -Array.from({ length: K }, (_, a) => (reward[a] - s.baseline) * ((k === a ? 1 : 0) - pi[k])).reduce((x, y) => x + y, 0));
    expectClose('expected inverse-propensity gradient', expected, exact);
  });

  it('the complementary term lowers the named action and raises every other, more for those the policy favours', () => {
    const s: PolicyGradientShape = { batch: 1, classes: 4, baseline: 0, clip: Infinity, scale: 1, selfNormalize: false, weighting: 'inverse', complementary: 1 };
    const logits = [2, 1, 0, -1];
    const { gradLogits, loss } = policyGradientRef(s, logits, [0], [0.5], [0], [1]);
    // Gradient descent moves logits by −gradLogits: up for classes 1..3, down for the named class 0.
    expect(gradLogits[0]).toBeGreaterThan(0);
    for (let k = 1; k < 4; k++) expect(gradLogits[k]).toBeLessThan(0);
    expect(-gradLogits[1]).toBeGreaterThan(-gradLogits[2]);
    expect(loss[0]).toBeCloseTo(-2 * Math.log(1 - Math.exp(logSoftmaxRow(logits, 0, 4)[0])), 12);
    // Without the mark (a default reward) nothing moves.
    expect(Array.from(policyGradientRef(s, logits, [0], [0.5], [0], [0]).gradLogits).every((g) => g === 0)).toBe(true);
  });

  it.each(golden.map((g) => [g.name, g] as const))('matches golden: %s', (_, g) => {
    const ref = policyGradientRef(g.shape, g.logits, g.actions, g.propensities, g.rewards);
    expectClose('policy gradient reference', ref.weights, g.weights);
    expectClose('policy gradient reference', ref.loss, g.loss);
    expectClose('policy gradient reference', ref.gradLogits, g.gradLogits);
  });

  it.each([[false, 0], [true, 0], [false, 1.5], [true, 0.7]])('gradLogits match finite differences of scale·Σ loss with w held constant (self-normalised: %s, complementary %s)', (selfNormalize, complementary) => {
    const s: PolicyGradientShape = { batch: 6, classes: 4, baseline: 0.3, clip: 2, scale: 0.8, selfNormalize, complementary };
    const t = inputs(s, new Random(17));
    if (complementary) expect(t.negatives.some((n) => n === 1), 'a complementary sample').toBe(true);
    const { weights, gradLogits } = policyGradientRef(s, t.logits, t.actions, t.propensities, t.rewards, t.negatives);
    const totalLoss = (z: Float64Array) => {
      let sum = 0;
      for (let b = 0; b < s.batch; b++) {
        const logP = logSoftmaxRow(z, b, s.classes);
        sum -= weights[b] * (t.rewards[b] - s.baseline) * logP[t.actions[b]];
        sum -= complementary * weights[b] * t.negatives[b] * Math.log(1 - Math.exp(logP[t.actions[b]]));
      }
      return s.scale * sum;
    };
    expectGradient('policy gradient logits', gradLogits, numericGradient(totalLoss, f64(t.logits)));
  });
});
