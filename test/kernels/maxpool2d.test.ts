import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { maxPool2dBackward, maxPool2dBackwardRef, maxPool2dForward, maxPool2dForwardRef, maxPool2dOutputSize, type MaxPool2dShape } from '@seed/kernels';
import { Random, runKernel, type PipelineCache } from '@seed/runtime';
import { expectClose } from '../support/compare';
import { testGpus } from '../support/gpu';
import { dot, expectGradient, f64, numericGradient } from '../support/gradcheck';

/** Inputs and expected outputs of both pooling kernels. */
interface MaxPool2dCase {
  shape: MaxPool2dShape;
  input: Float32Array;
  gradOutput: Float32Array;
  expected: { output: ArrayLike<number>; argmax: Uint32Array; gradInput: ArrayLike<number> };
}

interface MaxPool2dGolden { name: string; shape: MaxPool2dShape; input: number[]; output: number[]; argmax: number[]; gradOutput: number[]; gradInput: number[] }
const golden: MaxPool2dGolden[] = JSON.parse(readFileSync(new URL('./golden/maxpool2d.json', import.meta.url), 'utf8')).cases;

const awkward = { batch: 3, channels: 5, height: 7, width: 13 };
const shapes: [string, MaxPool2dShape, { ties?: boolean }][] = [
  ['awkward, 3/2 overlapping', { ...awkward, kernelSize: 3, stride: 2 }, {}],
  ['awkward, 3/1 overlapping, many ties', { ...awkward, kernelSize: 3, stride: 1 }, { ties: true }],
  ['awkward, 2/2, last row and column uncovered', { ...awkward, kernelSize: 2, stride: 2 }, {}],
  ['awkward, 2/3, gaps between windows', { ...awkward, kernelSize: 2, stride: 3 }, {}],
  ['model: batch 64, 32×26×26, 2/2', { batch: 64, channels: 32, height: 26, width: 26, kernelSize: 2, stride: 2 }, {}],
  // 66000 planes: many rounds of the grid-stride loop in both kernels.
  ['66000 planes of 3×3, 2/1', { batch: 33_000, channels: 2, height: 3, width: 3, kernelSize: 2, stride: 1 }, {}],
];

function outputCount(s: MaxPool2dShape): number {
  const { outHeight, outWidth } = maxPool2dOutputSize(s);
  return s.batch * s.channels * outHeight * outWidth;
}

/** Fresh random tensors and their references, built once and shared by both backends. */
const randomCases = new Map<string, MaxPool2dCase>();
function randomCase(name: string, s: MaxPool2dShape, { ties = false }): MaxPool2dCase {
  let c = randomCases.get(name);
  if (!c) {
    const random = new Random(s.batch * 7 + s.kernelSize * 3 + s.stride);
    const count = s.batch * s.channels * s.height * s.width;
    // With ties, values from {0, 1, 2} so most windows hold several maxima and the first must win.
    const input = ties ? Float32Array.from({ length: count }, () => random.int(3)) : random.floats(count);
    const gradOutput = random.floats(outputCount(s));
    const { output, argmax } = maxPool2dForwardRef(s, input);
    c = { shape: s, input, gradOutput, expected: { output, argmax, gradInput: maxPool2dBackwardRef(s, gradOutput, argmax) } };
    randomCases.set(name, c);
  }
  return c;
}

function goldenCase(g: MaxPool2dGolden): MaxPool2dCase {
  return {
    shape: g.shape,
    input: Float32Array.from(g.input),
    gradOutput: Float32Array.from(g.gradOutput),
    expected: { output: g.output, argmax: Uint32Array.from(g.argmax), gradInput: g.gradInput },
  };
}

/** Index of the first element where a and b differ, or -1. */
function firstDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Math.min(a.length, b.length);
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return i;
  return -1;
}

/** Runs both kernels, outputs starting as garbage; the backward reads the reference argmax. */
async function checkMaxPool2d(cache: PipelineCache, { shape: s, input, gradOutput, expected }: MaxPool2dCase) {
  const random = new Random(1);
  const count = outputCount(s);
  const { output, argmax } = await runKernel(cache, maxPool2dForward, s, { input }, {
    output: random.floats(count),
    argmax: Uint32Array.from({ length: count }, () => random.int(2 ** 32)),
  });
  expectClose('maxpool2d_forward', output, expected.output);
  expect(firstDifference(argmax, expected.argmax), 'first wrong argmax').toBe(-1);

  const { gradInput } = await runKernel(cache, maxPool2dBackward, s, { gradOutput, argmax: expected.argmax }, { gradInput: random.floats(input.length) });
  expectClose('maxpool2d_backward', gradInput, expected.gradInput);
}

describe.each(testGpus)('maxpool2d on $backend', ({ cache }) => {
  it.each(shapes)('forward and backward, %s', (name, s, options) => checkMaxPool2d(cache, randomCase(name, s, options)));
  it.each(golden.map((g) => [g.name, g] as const))('golden: %s', (_, g) => checkMaxPool2d(cache, goldenCase(g)));
});

describe('maxpool2d references', () => {
  it.each(golden.map((g) => [g.name, g] as const))('match golden: %s', (_, g) => {
    const { output, argmax } = maxPool2dForwardRef(g.shape, g.input);
    expect(Array.from(output)).toEqual(g.output);
    expect(Array.from(argmax)).toEqual(g.argmax);
    expect(Array.from(maxPool2dBackwardRef(g.shape, g.gradOutput, argmax))).toEqual(g.gradInput);
  });

  it.each([
    ['3/2 overlapping', { batch: 2, channels: 2, height: 7, width: 6, kernelSize: 3, stride: 2 }],
    ['3/1 overlapping', { batch: 1, channels: 2, height: 5, width: 6, kernelSize: 3, stride: 1 }],
    ['2/2', { batch: 2, channels: 1, height: 5, width: 6, kernelSize: 2, stride: 2 }],
  ] as [string, MaxPool2dShape][])('gradient matches finite differences, %s', (_, s) => {
    const random = new Random(11);
    const count = s.batch * s.channels * s.height * s.width;
    // Distinct values 0.1 apart: no ties, and a 1e-6 step never changes which one is the max.
    const input = f64(random.shuffle(Array.from({ length: count }, (_, i) => i / 10)));
    const gradOutput = f64(random.floats(outputCount(s)));
    const { argmax } = maxPool2dForwardRef(s, input);
    expectGradient('maxpool2d input', maxPool2dBackwardRef(s, gradOutput, argmax),
      numericGradient((x) => dot(maxPool2dForwardRef(s, x).output, gradOutput), input));
  });
});
