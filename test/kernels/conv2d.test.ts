import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  conv2dBackwardBiasRef, conv2dBackwardInput, conv2dBackwardInputRef, conv2dBackwardPartialsSize, conv2dBackwardSum,
  conv2dBackwardWeight, conv2dBackwardWeightRef, conv2dCanFusePool, conv2dForward, conv2dForwardRef, conv2dPooledOutputSize,
  type Conv2dShape,
} from '@seed/kernels';
import { Random, runKernel, type PipelineCache } from '@seed/runtime';
import { ATOL, expectClose } from '../support/compare';
import { testGpus } from '../support/gpu';
import { dot, expectGradient, f64, numericGradient } from '../support/gradcheck';

type Tensors = Record<'input' | 'weight' | 'bias' | 'gradOutput', Float32Array>;
type Expected = Record<'output' | 'gradInput' | 'gradWeight' | 'gradBias', ArrayLike<number>>;

/** Inputs and expected outputs of all four conv kernels, and the tolerance for the two reductions. */
interface Conv2dCase { shape: Conv2dShape; tensors: Tensors; expected: Expected; weightAtol: number; biasAtol: number }

interface Conv2dGolden extends Record<keyof Tensors | keyof Expected, number[]> { name: string; shape: Conv2dShape }
const golden: Conv2dGolden[] = JSON.parse(readFileSync(new URL('./golden/conv2d.json', import.meta.url), 'utf8')).cases;

const awkward = { batch: 3, inChannels: 5, outChannels: 4, height: 7, width: 13, kernelSize: 3 };
const shapes: [string, Conv2dShape][] = [
  ['awkward, stride 1, no padding', { ...awkward, stride: 1, padding: 0 }],
  ['awkward, stride 2, padding 1, relu', { ...awkward, stride: 2, padding: 1, relu: true }],
  ['awkward, stride 2, no padding, kernel 2', { ...awkward, kernelSize: 2, stride: 2, padding: 0 }],
  ['awkward, stride 1, padding 1, 9 output channels', { ...awkward, outChannels: 9, stride: 1, padding: 1 }],
  ['awkward, kernel 5 (25 taps), stride 2, padding 2', { ...awkward, kernelSize: 5, stride: 2, padding: 2 }],
  ['model: batch 64, 1×28×28 → 32, relu', { batch: 64, inChannels: 1, outChannels: 32, height: 28, width: 28, kernelSize: 3, stride: 1, padding: 0, relu: true }],
  // Fused max pool: the input one pooled output reads fits in registers (the tiled forward) or not.
  ['awkward, 2 input channels, padding 1, relu, fused pool 3/2 overlapping', { ...awkward, inChannels: 2, stride: 1, padding: 1, relu: true, pool: { kernelSize: 3, stride: 2 } }],
  // Forward only: too large a window for the pooled weight gradient.
  ['awkward, relu, fused pool 2/2, not tiled', { ...awkward, stride: 1, padding: 0, relu: true, pool: { kernelSize: 2, stride: 2 } }],
  ['awkward, 1 input channel, 9 output channels, stride 2, padding 1, fused pool 2/3 with gaps', { ...awkward, inChannels: 1, outChannels: 9, stride: 2, padding: 1, pool: { kernelSize: 2, stride: 3 } }],
  ['model: batch 64, 1×28×28 → 32, relu, fused pool 2/2', { batch: 64, inChannels: 1, outChannels: 32, height: 28, width: 28, kernelSize: 3, stride: 1, padding: 0, relu: true, pool: { kernelSize: 2, stride: 2 } }],
  // Over 65535 workgroups for the input gradient (folded into y); long grid-stride loops and sums for the others.
  ['66000 images', { batch: 66_000, inChannels: 1, outChannels: 1, height: 1, width: 1, kernelSize: 1, stride: 1, padding: 0 }],
];

/** Tensor sizes; output is pooled when a pool is fused. */
function sizes(s: Conv2dShape) {
  const { outHeight, outWidth } = conv2dPooledOutputSize(s);
  return {
    input: s.batch * s.inChannels * s.height * s.width,
    weight: s.outChannels * s.inChannels * s.kernelSize * s.kernelSize,
    output: s.batch * s.outChannels * outHeight * outWidth,
  };
}

const plus = (a: ArrayLike<number>, b: ArrayLike<number>) => Float64Array.from(a, (v, i) => v + b[i]);
const abs = (a: ArrayLike<number>) => Float64Array.from(a, Math.abs);

/**
 * Tolerance for float32 sums of many terms, which are only as exact as the magnitudes they pass through: one float32
 * ulp (2^-24) of the largest Σ|terms| on top of the usual atol. The reference applied to |inputs| gives Σ|terms|.
 */
function sumAtol(termMagnitudes: Float64Array): number {
  return ATOL + termMagnitudes.reduce((max, v) => Math.max(max, v), 0) * 2 ** -24;
}

/**
 * Fresh random tensors and their references, built once and shared by both backends. With a fused pool, values on a
 * dyadic grid (k/8, k/16) and few enough terms that every sum is exact in float32 as in float64: both find the same
 * maximum in each window, ties included (many: whole windows of equal inputs).
 */
const randomCases = new Map<string, Conv2dCase>();
function randomCase(name: string, s: Conv2dShape): Conv2dCase {
  let c = randomCases.get(name);
  if (!c) {
    const random = new Random(s.batch * 131 + s.outChannels * 17 + s.stride * 5 + s.padding);
    const size = sizes(s);
    const grid = (n: number, steps: number, scale: number) => Float32Array.from({ length: n }, () => (random.int(2 * steps + 1) - steps) / scale);
    const t: Tensors = s.pool ? {
      input: Float32Array.from({ length: size.input }, () => random.int(3) / 8),
      weight: grid(size.weight, 8, 16),
      bias: grid(s.outChannels, 8, 16),
      gradOutput: grid(size.output, 8, 8),
    } : {
      input: random.floats(size.input, 0, 1),
      weight: random.floats(size.weight, -0.5, 0.5),
      bias: random.floats(s.outChannels, -0.5, 0.5),
      gradOutput: random.floats(size.output),
    };
    c = {
      shape: s,
      tensors: t,
      expected: {
        output: conv2dForwardRef(s, t.input, t.weight, t.bias),
        gradInput: s.pool ? [] : conv2dBackwardInputRef(s, t.gradOutput, t.weight),
        gradWeight: s.pool && !conv2dCanFusePool(s, s.pool) ? [] : conv2dBackwardWeightRef(s, t.input, t.gradOutput, t.weight),
        gradBias: conv2dBackwardBiasRef(s, t.gradOutput),
      },
      weightAtol: s.pool ? ATOL : sumAtol(conv2dBackwardWeightRef(s, abs(t.input), abs(t.gradOutput))),
      biasAtol: s.pool ? ATOL : sumAtol(conv2dBackwardBiasRef(s, abs(t.gradOutput))),
    };
    randomCases.set(name, c);
  }
  return c;
}

function goldenCase(g: Conv2dGolden): Conv2dCase {
  const tensors = { input: Float32Array.from(g.input), weight: Float32Array.from(g.weight), bias: Float32Array.from(g.bias), gradOutput: Float32Array.from(g.gradOutput) };
  return { shape: g.shape, tensors, expected: g, weightAtol: ATOL, biasAtol: ATOL };
}

/**
 * Runs the conv kernels (no input gradient with a fused pool, and no weight gradient where it cannot take the pool),
 * outputs starting as garbage.
 */
async function checkConv2d(cache: PipelineCache, { shape: s, tensors: t, expected, weightAtol, biasAtol }: Conv2dCase) {
  const random = new Random(1);
  const size = sizes(s);
  const { output } = await runKernel(cache, conv2dForward, s, { input: t.input, weight: t.weight, bias: t.bias }, { output: random.floats(size.output) });
  expectClose('conv2d_forward', output, expected.output);

  if (!s.pool) {
    const { gradInput } = await runKernel(cache, conv2dBackwardInput, s, { gradOutput: t.gradOutput, weight: t.weight }, { gradInput: random.floats(size.input) });
    expectClose('conv2d_backward_input', gradInput, expected.gradInput);
  }

  // The weight and bias gradients: slices, then their sum, which also accumulates onto the garbage.
  if (s.pool && !conv2dCanFusePool(s, s.pool)) return;
  const { partials } = await runKernel(cache, conv2dBackwardWeight, s, { input: t.input, weight: t.weight, gradOutput: t.gradOutput }, { partials: random.floats(conv2dBackwardPartialsSize(s)) });
  for (const accumulate of [false, true]) {
    const initialWeight = random.floats(size.weight);
    const initialBias = random.floats(s.outChannels);
    const { gradWeight, gradBias } = await runKernel(cache, conv2dBackwardSum, { ...s, accumulate }, { partials }, { gradWeight: initialWeight, gradBias: initialBias });
    expectClose(s.pool ? 'conv2d_backward_weight, pooled' : 'conv2d_backward_weight', gradWeight, accumulate ? plus(initialWeight, expected.gradWeight) : expected.gradWeight, weightAtol);
    expectClose(s.pool ? 'conv2d_backward_weight bias, pooled' : 'conv2d_backward_weight bias', gradBias, accumulate ? plus(initialBias, expected.gradBias) : expected.gradBias, biasAtol);
  }
}

describe.each(testGpus)('conv2d on $backend', ({ cache }) => {
  it.each(shapes)('forward and backward, %s', (name, s) => checkConv2d(cache, randomCase(name, s)));
  it.each(golden.map((g) => [g.name, g] as const))('golden: %s', (_, g) => checkConv2d(cache, goldenCase(g)));
});

describe('conv2d references', () => {
  it.each(golden.map((g) => [g.name, g] as const))('match golden: %s', (_, g) => {
    expect(Array.from(conv2dForwardRef(g.shape, g.input, g.weight, g.bias))).toEqual(g.output);
    expect(Array.from(conv2dBackwardInputRef(g.shape, g.gradOutput, g.weight))).toEqual(g.gradInput);
    expect(Array.from(conv2dBackwardWeightRef(g.shape, g.input, g.gradOutput))).toEqual(g.gradWeight);
    expect(Array.from(conv2dBackwardBiasRef(g.shape, g.gradOutput))).toEqual(g.gradBias);
  });

  it.each([
    ['stride 1, no padding', { batch: 2, inChannels: 2, outChannels: 3, height: 5, width: 6, kernelSize: 3, stride: 1, padding: 0 }],
    ['stride 2, padding 1', { batch: 2, inChannels: 2, outChannels: 3, height: 5, width: 6, kernelSize: 3, stride: 2, padding: 1 }],
    ['padding 1, fused pool 3/2 overlapping', { batch: 2, inChannels: 2, outChannels: 3, height: 5, width: 6, kernelSize: 3, stride: 1, padding: 1, pool: { kernelSize: 3, stride: 2 } }],
  ] as [string, Conv2dShape][])('gradients match finite differences, %s', (_, s) => {
    const random = new Random(7);
    const size = sizes(s);
    const input = f64(random.floats(size.input));
    const weight = f64(random.floats(size.weight));
    const bias = f64(random.floats(s.outChannels));
    const gradOutput = f64(random.floats(size.output));
    if (!s.pool) {
      expectGradient('conv2d input', conv2dBackwardInputRef(s, gradOutput, weight),
        numericGradient((x) => dot(conv2dForwardRef(s, x, weight, bias), gradOutput), input));
    }
    expectGradient('conv2d weight', conv2dBackwardWeightRef(s, input, gradOutput, weight),
      numericGradient((w) => dot(conv2dForwardRef(s, input, w, bias), gradOutput), weight));
    expectGradient('conv2d bias', conv2dBackwardBiasRef(s, gradOutput),
      numericGradient((b) => dot(conv2dForwardRef(s, input, weight, b), gradOutput), bias));
  });
});
