import { describe, expect, it } from 'vitest';
import { scanLoss, scanLossRef, type ScanLossShape } from '@seed/kernels';
import { Random, runKernel } from '@seed/runtime';
import { expectClose } from '../support/compare';
import { testGpus } from '../support/gpu';
import { expectGradient, f64, numericGradient } from '../support/gradcheck';

const shapes: [string, ScanLossShape][] = [
  ['2 rows, 3 classes', { rows: 2, classes: 3, entropyWeight: 2, scale: 1 }],
  ['14 rows, 5 classes, λ 0', { rows: 14, classes: 5, entropyWeight: 0, scale: 0.3 }],
  ['model: 128 rows, 10 classes, λ 2', { rows: 128, classes: 10, entropyWeight: 2, scale: 0.8 }],
  ['150 rows (more than the workgroup), 7 classes, λ 5', { rows: 150, classes: 7, entropyWeight: 5, scale: 1 }],
];

describe.each(testGpus)('SCAN loss on $backend', ({ cache }) => {
  it.each(shapes)('%s', async (_, s) => {
    const logits = new Random(s.rows * 3 + s.classes).floats(s.rows * s.classes, -3, 3);
    const out = await runKernel(cache, scanLoss, s, { logits }, { loss: s.rows, probabilities: s.rows * s.classes, gradLogits: s.rows * s.classes });
    const ref = scanLossRef(s, logits);
    expectClose('scan_loss loss', out.loss, ref.loss);
    expectClose('scan_loss probabilities', out.probabilities, ref.probabilities);
    expectClose('scan_loss gradLogits', out.gradLogits, ref.gradLogits);
  });
});

describe('SCAN loss reference', () => {
  it.each([[2, 1], [0, 0.7], [5, 1]])('gradLogits matches finite differences of scale·mean loss (λ %s, scale %s)', (entropyWeight, scale) => {
    const s: ScanLossShape = { rows: 6, classes: 4, entropyWeight, scale };
    const logits = f64(new Random(13).floats(s.rows * s.classes, -2, 2));
    const { gradLogits } = scanLossRef(s, logits);
    const mean = (x: Float64Array) => (s.scale * scanLossRef(s, x).loss.reduce((a, b) => a + b, 0)) / s.rows;
    expectGradient('scan gradLogits', gradLogits, numericGradient(mean, logits));
  });

  it('is lowest when pairs agree confidently and the batch uses every class', () => {
    const s: ScanLossShape = { rows: 8, classes: 4, entropyWeight: 1, scale: 1 };
    const sure = (k: number) => [0, 1, 2, 3].map((j) => (j === k ? 20 : 0));
    const mean = (logits: number[]) => scanLossRef(s, logits).loss.reduce((a, b) => a + b, 0) / s.rows;
    // Pairs (i, i + 4) on classes 0..3: agree, confident, balanced.
    const best = mean([0, 1, 2, 3, 0, 1, 2, 3].flatMap(sure));
    expect(best).toBeCloseTo(-Math.log(4), 5); // −log 1 + λ·(−log 4)
    // Every row in one class: the pairs agree, but the entropy term is 0.
    expect(mean([0, 0, 0, 0, 0, 0, 0, 0].flatMap(sure))).toBeGreaterThan(best + 1);
    // Balanced but pairs disagreeing.
    expect(mean([0, 1, 2, 3, 1, 2, 3, 0].flatMap(sure))).toBeGreaterThan(best + 10);
  });

  it('refuses an odd number of rows and too many classes', () => {
    expect(() => scanLoss.params({ rows: 7, classes: 10, entropyWeight: 1, scale: 1 })).toThrow(/even number of rows/);
    expect(() => scanLoss.params({ rows: 8, classes: 65, entropyWeight: 1, scale: 1 })).toThrow(/1 to 64 classes/);
  });
});
