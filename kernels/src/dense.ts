// Dense (fully connected) layer, PyTorch conventions: weight [out, in], bias [out], row-major float32.
import { grid1d, MAX_WORKGROUPS_PER_DIMENSION, type KernelDef, type Work } from './kernel';

export interface DenseShape {
  batch: number;
  inFeatures: number;
  outFeatures: number;
  /** Forward only: fuses max(·, 0) into the output. */
  relu?: boolean;
  /** Gradients only: add to the output instead of overwriting it. */
  accumulate?: boolean;
}

// dense_forward and dense_matmul: 8×8 invocations per workgroup, each computing a ROWS × COLS block of outputs.
const WG_X = 8;
const WG_Y = 8;
const ROWS = 4;
const COLS = 8;
// dense_backward_bias: one invocation per output feature.
const BIAS_WG = 64;

/** Workgroups covering an M×N output in blocks of ROWS×COLS. */
function blockGrid(name: string, M: number, N: number): [number, number, number] {
  const groups: [number, number, number] = [Math.ceil(N / (COLS * WG_X)), Math.ceil(M / (ROWS * WG_Y)), 1];
  if (Math.max(...groups) > MAX_WORKGROUPS_PER_DIMENSION) {
    throw new Error(`${name}: a ${M}×${N} output needs ${groups[0]}×${groups[1]} workgroups, over ${MAX_WORKGROUPS_PER_DIMENSION} per dimension`);
  }
  return groups;
}

// RELU and ACCUMULATE are uniforms, not overrides: they only touch the epilogue, and every override variant is another
// pipeline that llvmpipe takes seconds to compile.
const flag = (on: boolean | undefined) => (on ? 1 : 0);

/** output[b,o] = bias[o] + Σ_i input[b,i]·weight[o,i], then max(·, 0) if relu. */
export const denseForward: KernelDef<DenseShape> = {
  name: 'dense_forward',
  file: 'dense_forward',
  inputs: ['input', 'weight', 'bias'],
  outputs: ['output'],
  params: (s) => [s.batch, s.inFeatures, s.outFeatures, flag(s.relu)],
  workgroups: (s) => blockGrid('dense_forward', s.batch, s.outFeatures),
  constants: (s) => ({ WG_X, WG_Y, ALIGNED: flag(s.inFeatures % 4 === 0) }),
  work: (s) => matmulWork(s.batch, s.outFeatures, s.inFeatures, s.outFeatures),
};

/** An M×K by K×N product: 2·M·N·K flops; both operands read, the output written, plus `extraReads` values (bias, accumulated output). */
function matmulWork(M: number, N: number, K: number, extraReads: number): Work {
  return { flops: 2 * M * N * K, bytes: 4 * (M * K + K * N + M * N + extraReads) };
}

/**
 * A gradient as a dense_matmul specialisation, C[M,N] (+)= A·B with B [K,N] and A [M,K], or A stored [K,M] if
 * transposed; vec4 loads need both feature counts to be multiples of 4 (the batch may be anything).
 */
function denseMatmul(name: string, dims: (s: DenseShape) => [M: number, N: number, K: number], aTransposed: boolean): Omit<KernelDef<DenseShape>, 'inputs' | 'outputs'> {
  return {
    name,
    file: 'dense_matmul',
    params: (s) => [...dims(s), flag(s.accumulate)],
    workgroups: (s) => blockGrid(name, dims(s)[0], dims(s)[1]),
    constants: (s) => ({ WG_X, WG_Y, A_TRANSPOSED: flag(aTransposed), ALIGNED: flag(s.inFeatures % 4 === 0 && s.outFeatures % 4 === 0) }),
    work: (s) => {
      const [M, N, K] = dims(s);
      return matmulWork(M, N, K, s.accumulate ? M * N : 0);
    },
  };
}

/** gradInput[b,i] (+)= Σ_o gradOutput[b,o]·weight[o,i]. */
export const denseBackwardInput: KernelDef<DenseShape> = {
  ...denseMatmul('dense_backward_input', (s) => [s.batch, s.inFeatures, s.outFeatures], false),
  inputs: ['gradOutput', 'weight'],
  outputs: ['gradInput'],
};

/** gradWeight[o,i] (+)= Σ_b gradOutput[b,o]·input[b,i]. */
export const denseBackwardWeight: KernelDef<DenseShape> = {
  ...denseMatmul('dense_backward_weight', (s) => [s.outFeatures, s.inFeatures, s.batch], true),
  inputs: ['gradOutput', 'input'],
  outputs: ['gradWeight'],
};

/** gradBias[o] (+)= Σ_b gradOutput[b,o]. */
export const denseBackwardBias: KernelDef<DenseShape> = {
  name: 'dense_backward_bias',
  file: 'dense_backward_bias',
  inputs: ['gradOutput'],
  outputs: ['gradBias'],
  params: (s) => [s.batch, s.outFeatures, flag(s.accumulate)],
  workgroups: (s) => grid1d(s.outFeatures, BIAS_WG),
  constants: () => ({ WG: BIAS_WG }),
  work: (s) => ({ flops: s.batch * s.outFeatures, bytes: 4 * (s.batch * s.outFeatures + (s.accumulate ? 2 : 1) * s.outFeatures) }),
};

export function denseForwardRef(s: DenseShape, input: ArrayLike<number>, weight: ArrayLike<number>, bias: ArrayLike<number>): Float64Array {
  const { batch: B, inFeatures: I, outFeatures: O } = s;
  const output = new Float64Array(B * O);
  for (let b = 0; b < B; b++) {
    for (let o = 0; o < O; o++) {
      let sum = bias[o];
      for (let i = 0; i < I; i++) sum += input[b * I + i] * weight[o * I + i];
      output[b * O + o] = s.relu ? Math.max(sum, 0) : sum;
    }
  }
  return output;
}

/** gradInput = gradOutput · weight: ∂(Σ gradOutput·output)/∂input, for the affine part (relu's mask is relu_backward's job). */
export function denseBackwardInputRef(s: DenseShape, gradOutput: ArrayLike<number>, weight: ArrayLike<number>): Float64Array {
  const { batch: B, inFeatures: I, outFeatures: O } = s;
  const gradInput = new Float64Array(B * I);
  for (let b = 0; b < B; b++) {
    for (let o = 0; o < O; o++) {
      const g = gradOutput[b * O + o];
      for (let i = 0; i < I; i++) gradInput[b * I + i] += g * weight[o * I + i];
    }
  }
  return gradInput;
}

/** gradWeight = gradOutputᵀ · input: ∂(Σ gradOutput·output)/∂weight. */
export function denseBackwardWeightRef(s: DenseShape, gradOutput: ArrayLike<number>, input: ArrayLike<number>): Float64Array {
  const { batch: B, inFeatures: I, outFeatures: O } = s;
  const gradWeight = new Float64Array(O * I);
  for (let b = 0; b < B; b++) {
    for (let o = 0; o < O; o++) {
      const g = gradOutput[b * O + o];
      for (let i = 0; i < I; i++) gradWeight[o * I + i] += g * input[b * I + i];
    }
  }
  return gradWeight;
}

/** gradBias = Σ_b gradOutput[b, ·]: ∂(Σ gradOutput·output)/∂bias. */
export function denseBackwardBiasRef(s: DenseShape, gradOutput: ArrayLike<number>): Float64Array {
  const { batch: B, outFeatures: O } = s;
  const gradBias = new Float64Array(O);
  for (let b = 0; b < B; b++) for (let o = 0; o < O; o++) gradBias[o] += gradOutput[b * O + o];
  return gradBias;
}
