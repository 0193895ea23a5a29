import { describe, expect, it } from 'vitest';
import { ntxentBackward, ntxentLoss, ntxentRef, type NtXentShape } from '@seed/kernels';
import { Random, runKernel } from '@seed/runtime';
import { expectClose } from '../support/compare';
import { testGpus } from '../support/gpu';
import { expectGradient, f64, numericGradient } from '../support/gradcheck';

const shapes: [string, NtXentShape][] = [
  ['2 rows, 3 values', { rows: 2, dim: 3, temperature: 0.5, scale: 1 }],
  ['14 rows, 5 values, τ 0.2', { rows: 14, dim: 5, temperature: 0.2, scale: 0.3 }],
  ['model: 128 rows, 32 values, τ 0.5', { rows: 128, dim: 32, temperature: 0.5, scale: 1 / 128 }],
  ['130 rows (three workgroups), 7 values, τ 0.1', { rows: 130, dim: 7, temperature: 0.1, scale: 1 }],
];

describe.each(testGpus)('NT-Xent on $backend', ({ cache }) => {
  it.each(shapes)('%s', async (_, s) => {
    const z = new Random(s.rows * 3 + s.dim).floats(s.rows * s.dim, -1, 1);
    const forward = await runKernel(cache, ntxentLoss, s, { z }, { loss: s.rows, probabilities: s.rows * s.rows, norms: s.rows });
    const ref = ntxentRef(s, z);
    expectClose('ntxent_loss loss', forward.loss, ref.loss);
    expectClose('ntxent_loss probabilities', forward.probabilities, ref.probabilities);
    const { gradZ } = await runKernel(cache, ntxentBackward, s, { z, probabilities: forward.probabilities as Float32Array, norms: forward.norms as Float32Array }, { gradZ: s.rows * s.dim });
    expectClose('ntxent_backward gradZ', gradZ, ref.gradZ);
  });
});

describe('NT-Xent reference', () => {
  it.each([[0.5, 1], [0.1, 0.7]])('gradZ matches finite differences of scale·Σ loss (τ %s, scale %s)', (temperature, scale) => {
    const s: NtXentShape = { rows: 6, dim: 4, temperature, scale };
    const z = f64(new Random(11).floats(s.rows * s.dim, -1, 1));
    const { gradZ } = ntxentRef(s, z);
    const total = (x: Float64Array) => s.scale * ntxentRef(s, x).loss.reduce((a, b) => a + b, 0);
    expectGradient('ntxent gradZ', gradZ, numericGradient(total, z));
  });

  it('the loss is log(2N − 1) when every embedding is the same, and falls as views agree', () => {
    const s: NtXentShape = { rows: 8, dim: 3, temperature: 0.5, scale: 1 };
    const same = ntxentRef(s, new Float64Array(24).fill(1));
    for (const l of same.loss) expect(l).toBeCloseTo(Math.log(7), 12);
    // Pairs on four orthogonal-ish directions: each row's positive is its own copy.
    const paired = Float64Array.from({ length: 24 }, (_, k) => ((Math.floor(k / 3) % 4) === k % 3 ? 1 : (Math.floor(k / 3) % 4 === 3 ? -1 : 0)));
    for (const l of ntxentRef(s, paired).loss) expect(l).toBeLessThan(Math.log(7));
  });
});
