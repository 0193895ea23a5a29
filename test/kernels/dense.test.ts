import { readFileSync } from 'node:fs';
import { describe, it } from 'vitest';
import {
  denseBackwardBias, denseBackwardBiasRef, denseBackwardInput, denseBackwardInputRef, denseBackwardWeight,
  denseBackwardWeightRef, denseForward, denseForwardRef, type DenseShape,
} from '@seed/kernels';
import { Random, runKernel, type PipelineCache } from '@seed/runtime';
import { expectClose } from '../support/compare';
import { testGpus } from '../support/gpu';
import { dot, expectGradient, f64, numericGradient } from '../support/gradcheck';

interface DenseGolden {
  name: string;
  shape: DenseShape;
  input: number[];
  weight: number[];
  bias: number[];
  output: number[];
  outputRelu: number[];
  gradOutput: number[];
  gradInput: number[];
  gradWeight: number[];
  gradBias: number[];
}
const golden: DenseGolden[] = JSON.parse(readFileSync(new URL('./golden/dense.json', import.meta.url), 'utf8')).cases;

const shapes: [string, DenseShape][] = [
  ['batch 3, 7→13 (no side a multiple of 4)', { batch: 3, inFeatures: 7, outFeatures: 13 }],
  ['batch 3, 13→5, relu', { batch: 3, inFeatures: 13, outFeatures: 5, relu: true }],
  ['batch 1, 1→1', { batch: 1, inFeatures: 1, outFeatures: 1 }],
  ['batch 5, 12→20 (multiples of 4, not of the block)', { batch: 5, inFeatures: 12, outFeatures: 20, relu: true }],
  ['batch 37, 36→6 (partial workgroups)', { batch: 37, inFeatures: 36, outFeatures: 6 }],
  ['model fc1: batch 64, 5408→64, relu', { batch: 64, inFeatures: 5408, outFeatures: 64, relu: true }],
  ['model fc2: batch 64, 64→10', { batch: 64, inFeatures: 64, outFeatures: 10 }],
  ['model rot: batch 64, 64→4', { batch: 64, inFeatures: 64, outFeatures: 4 }],
];

// A float32 sum of 5408 products drifts by about √K·ε·|partial sums| (4e-5 seen), past the default 1e-5 absolute
// tolerance where the result itself is near zero; the relative tolerance is unchanged.
const atolFor = (reduced: number) => (reduced > 1024 ? 1e-4 : undefined);

const plus = (a: ArrayLike<number>, b: ArrayLike<number>) => Float64Array.from(a, (v, i) => v + b[i]);

/** Runs the four dense kernels and checks each against its reference; non-accumulating outputs start as garbage. */
async function checkDense(cache: PipelineCache, s: DenseShape, random: Random) {
  const { batch: B, inFeatures: I, outFeatures: O } = s;
  const input = random.floats(B * I);
  const weight = random.floats(O * I, -0.5, 0.5);
  const bias = random.floats(O);
  const gradOutput = random.floats(B * O);

  const { output } = await runKernel(cache, denseForward, s, { input, weight, bias }, { output: random.floats(B * O) });
  expectClose('dense_forward', output, denseForwardRef(s, input, weight, bias), atolFor(I));

  const refs = {
    gradInput: denseBackwardInputRef(s, gradOutput, weight),
    gradWeight: denseBackwardWeightRef(s, gradOutput, input),
    gradBias: denseBackwardBiasRef(s, gradOutput),
  };
  for (const accumulate of [false, true]) {
    const initial = { gradInput: random.floats(B * I), gradWeight: random.floats(O * I), gradBias: random.floats(O) };
    const expected = (name: keyof typeof refs) => (accumulate ? plus(initial[name], refs[name]) : refs[name]);
    const t = { ...s, accumulate };
    const { gradInput } = await runKernel(cache, denseBackwardInput, t, { gradOutput, weight }, { gradInput: initial.gradInput });
    expectClose('dense_backward_input', gradInput, expected('gradInput'), atolFor(O));
    const { gradWeight } = await runKernel(cache, denseBackwardWeight, t, { gradOutput, input }, { gradWeight: initial.gradWeight });
    expectClose('dense_backward_weight', gradWeight, expected('gradWeight'), atolFor(B));
    const { gradBias } = await runKernel(cache, denseBackwardBias, t, { gradOutput }, { gradBias: initial.gradBias });
    expectClose('dense_backward_bias', gradBias, expected('gradBias'), atolFor(B));
  }
}

describe.each(testGpus)('dense on $backend', ({ cache }) => {
  it.each(shapes)('forward and backward, %s', async (_, s) => {
    await checkDense(cache, s, new Random(s.batch * 7919 + s.inFeatures * 31 + s.outFeatures));
  });

  it.each(golden.map((g) => [g.name, g] as const))('golden: %s', async (_, g) => {
    const s = g.shape;
    const [input, weight, bias, gradOutput] = [g.input, g.weight, g.bias, g.gradOutput].map((v) => Float32Array.from(v));
    for (const [relu, expected] of [[false, g.output], [true, g.outputRelu]] as const) {
      const { output } = await runKernel(cache, denseForward, { ...s, relu }, { input, weight, bias }, { output: expected.length });
      expectClose('dense_forward', output, expected);
    }
    const { gradInput } = await runKernel(cache, denseBackwardInput, s, { gradOutput, weight }, { gradInput: g.gradInput.length });
    expectClose('dense_backward_input', gradInput, g.gradInput);
    const { gradWeight } = await runKernel(cache, denseBackwardWeight, s, { gradOutput, input }, { gradWeight: g.gradWeight.length });
    expectClose('dense_backward_weight', gradWeight, g.gradWeight);
    const { gradBias } = await runKernel(cache, denseBackwardBias, s, { gradOutput }, { gradBias: g.gradBias.length });
    expectClose('dense_backward_bias', gradBias, g.gradBias);
  });
});

describe('dense references', () => {
  it.each(golden.map((g) => [g.name, g] as const))('match golden: %s', (_, g) => {
    expectClose('dense references', denseForwardRef(g.shape, g.input, g.weight, g.bias), g.output);
    expectClose('dense references', denseForwardRef({ ...g.shape, relu: true }, g.input, g.weight, g.bias), g.outputRelu);
    expectClose('dense references', denseBackwardInputRef(g.shape, g.gradOutput, g.weight), g.gradInput);
    expectClose('dense references', denseBackwardWeightRef(g.shape, g.gradOutput, g.input), g.gradWeight);
    expectClose('dense references', denseBackwardBiasRef(g.shape, g.gradOutput), g.gradBias);
  });

  it('gradients match finite differences', () => {
    const s: DenseShape = { batch: 3, inFeatures: 5, outFeatures: 4 };
    const random = new Random(11);
    const input = f64(random.floats(s.batch * s.inFeatures));
    const weight = f64(random.floats(s.outFeatures * s.inFeatures));
    const bias = f64(random.floats(s.outFeatures));
    const gradOutput = f64(random.floats(s.batch * s.outFeatures));
    expectGradient('dense input', denseBackwardInputRef(s, gradOutput, weight),
      numericGradient((x) => dot(denseForwardRef(s, x, weight, bias), gradOutput), input));
    expectGradient('dense weight', denseBackwardWeightRef(s, gradOutput, input),
      numericGradient((w) => dot(denseForwardRef(s, input, w, bias), gradOutput), weight));
    expectGradient('dense bias', denseBackwardBiasRef(s, gradOutput),
      numericGradient((b) => dot(denseForwardRef(s, input, weight, b), gradOutput), bias));
  });
});
