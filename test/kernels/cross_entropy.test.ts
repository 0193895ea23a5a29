import { readFileSync } from 'node:fs';
import { describe, it } from 'vitest';
import { softmaxCrossEntropy, softmaxCrossEntropyRef, type CrossEntropyShape } from '@seed/kernels';
import { Random, runKernel } from '@seed/runtime';
import { expectClose } from '../support/compare';
import { testGpus } from '../support/gpu';
import { expectGradient, f64, numericGradient } from '../support/gradcheck';

interface CrossEntropyGolden {
  name: string;
  shape: CrossEntropyShape;
  logits: number[];
  labels: number[];
  weights: number[];
  loss: number[];
  gradLogits: number[];
}
const golden: CrossEntropyGolden[] = JSON.parse(readFileSync(new URL('./golden/cross_entropy.json', import.meta.url), 'utf8')).cases;

function inputs(s: CrossEntropyShape, random: Random, logitRange: number) {
  return {
    logits: random.floats(s.batch * s.classes, -logitRange, logitRange),
    labels: Uint32Array.from({ length: s.batch }, () => random.int(s.classes)),
    weights: random.floats(s.batch, 0, 2),
  };
}

describe.each(testGpus)('softmax cross-entropy on $backend', ({ cache }) => {
  it.each([
    ['batch 3, 5 classes', { batch: 3, classes: 5, scale: 0.37 }, 4],
    ['batch 1, 1 class', { batch: 1, classes: 1, scale: 1 }, 4],
    ['model policy: batch 64, 10 classes', { batch: 64, classes: 10, scale: 1 / 64 }, 4],
    ['model rotation: batch 256, 4 classes', { batch: 256, classes: 4, scale: 0.5 / 256 }, 4],
    ['logits up to ±100 (needs the max subtracted)', { batch: 7, classes: 10, scale: 1 }, 100],
  ] as [string, CrossEntropyShape, number][])('%s', async (_, s, logitRange) => {
    const t = inputs(s, new Random(s.batch * 31 + s.classes + logitRange), logitRange);
    const { loss, gradLogits } = await runKernel(cache, softmaxCrossEntropy, s, t, { loss: s.batch, gradLogits: s.batch * s.classes });
    const ref = softmaxCrossEntropyRef(s, t.logits, t.labels, t.weights);
    expectClose('softmax_cross_entropy loss', loss, ref.loss);
    expectClose('softmax_cross_entropy gradLogits', gradLogits, ref.gradLogits);
  });

  it.each(golden.map((g) => [g.name, g] as const))('golden: %s', async (_, g) => {
    const t = { logits: Float32Array.from(g.logits), labels: Uint32Array.from(g.labels), weights: Float32Array.from(g.weights) };
    const { loss, gradLogits } = await runKernel(cache, softmaxCrossEntropy, g.shape, t, { loss: g.loss.length, gradLogits: g.gradLogits.length });
    expectClose('softmax_cross_entropy loss', loss, g.loss);
    expectClose('softmax_cross_entropy gradLogits', gradLogits, g.gradLogits);
  });
});

describe('softmax cross-entropy reference', () => {
  it.each(golden.map((g) => [g.name, g] as const))('matches golden: %s', (_, g) => {
    const ref = softmaxCrossEntropyRef(g.shape, g.logits, g.labels, g.weights);
    expectClose('cross-entropy reference', ref.loss, g.loss);
    expectClose('cross-entropy reference', ref.gradLogits, g.gradLogits);
  });

  it('gradLogits match finite differences of scale·Σ loss', () => {
    const s: CrossEntropyShape = { batch: 4, classes: 5, scale: 0.7 };
    const t = inputs(s, new Random(5), 3);
    const totalLoss = (z: Float64Array) => s.scale * softmaxCrossEntropyRef(s, z, t.labels, t.weights).loss.reduce((a, b) => a + b, 0);
    expectGradient('cross-entropy logits', softmaxCrossEntropyRef(s, t.logits, t.labels, t.weights).gradLogits, numericGradient(totalLoss, f64(t.logits)));
  });
});
