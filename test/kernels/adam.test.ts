import { readFileSync } from 'node:fs';
import { describe, it } from 'vitest';
import { adamUpdate, adamUpdateRef, type AdamShape } from '@seed/kernels';
import { Random, runKernel } from '@seed/runtime';
import { expectClose } from '../support/compare';
import { testGpus } from '../support/gpu';

interface AdamGolden {
  name: string;
  shape: AdamShape;
  params: number[];
  grads: number[];
  state: number[];
  nextParams: number[];
  nextState: number[];
}
const golden: AdamGolden[] = JSON.parse(readFileSync(new URL('./golden/adam.json', import.meta.url), 'utf8')).cases;

const hyper = { lr: 1e-2, beta1: 0.9, beta2: 0.999, epsilon: 1e-8 };

describe.each(testGpus)('adam on $backend', ({ cache }) => {
  it.each([
    ['7 parameters, no weight decay', 7, 0],
    ['1 parameter, weight decay 0.1', 1, 0.1],
    ['model size: 352,750 parameters, weight decay 0.01', 352_750, 0.01],
  ])('%s, 5 steps', async (_, count, weightDecay) => {
    const random = new Random(count);
    let gpu: { params: Float32Array; state: Float32Array } = { params: random.floats(count), state: new Float32Array(2 * count) };
    let ref: { params: Float64Array; state: Float64Array } = { params: Float64Array.from(gpu.params), state: new Float64Array(2 * count) };
    for (let step = 1; step <= 5; step++) {
      const s: AdamShape = { count, ...hyper, weightDecay, step };
      const grads = random.floats(count, -2, 2);
      const out = await runKernel(cache, adamUpdate, s, { grads }, { params: gpu.params, state: gpu.state });
      gpu = { params: out.params as Float32Array, state: out.state as Float32Array };
      ref = adamUpdateRef(s, ref.params, grads, ref.state);
    }
    expectClose('adam_update params', gpu.params, ref.params);
    expectClose('adam_update state', gpu.state, ref.state);
  });

  it.each(golden.map((g) => [g.name, g] as const))('golden: %s', async (_, g) => {
    const out = await runKernel(cache, adamUpdate, g.shape, { grads: Float32Array.from(g.grads) },
      { params: Float32Array.from(g.params), state: Float32Array.from(g.state) });
    expectClose('adam_update params', out.params, g.nextParams);
    expectClose('adam_update state', out.state, g.nextState);
  });
});

describe('adam reference', () => {
  it.each(golden.map((g) => [g.name, g] as const))('matches golden: %s', (_, g) => {
    const ref = adamUpdateRef(g.shape, g.params, g.grads, g.state);
    expectClose('adam reference', ref.params, g.nextParams);
    expectClose('adam reference', ref.state, g.nextState);
  });
});
