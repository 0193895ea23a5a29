// 2-D convolution (NCHW, weight [outC, inC, k, k], bias [outC], PyTorch conventions): forward and the three gradients,
// optionally fused with the max pool that follows it.
import { gridStride, planeTiles, type KernelDef } from './kernel';
import { maxPool2dBackwardRef, maxPool2dForwardRef, maxPool2dOutputSize, type MaxPool2dShape } from './maxpool2d';

export interface Conv2dShape {
  batch: number;
  inChannels: number;
  outChannels: number;
  height: number;
  width: number;
  kernelSize: number;
  stride: number;
  padding: number;
  /** Forward only: fuses max(·, 0) into the output. */
  relu?: boolean;
  /**
   * A max pool fused after the convolution (and its ReLU): the forward writes the pooled output only, and the weight
   * and bias gradients take the pooled output's gradient (ReLU's mask already applied: ReLU and max commute, so its
   * backward runs on the pooled tensors). Not for the input gradient.
   */
  pool?: { kernelSize: number; stride: number };
  /** Weight and bias gradients only: add to the output instead of overwriting it. */
  accumulate?: boolean;
}

/** The convolution's own output size, before any fused pool. */
export function conv2dOutputSize(s: Conv2dShape): { outHeight: number; outWidth: number } {
  const outHeight = Math.floor((s.height + 2 * s.padding - s.kernelSize) / s.stride) + 1;
  const outWidth = Math.floor((s.width + 2 * s.padding - s.kernelSize) / s.stride) + 1;
  if (!(s.stride >= 1 && s.kernelSize >= 1 && outHeight >= 1 && outWidth >= 1)) {
    throw new Error(`conv2d: kernel ${s.kernelSize}, stride ${s.stride}, padding ${s.padding} do not fit a ${s.height}×${s.width} image`);
  }
  return { outHeight, outWidth };
}

/** The fused pool as a maxpool2d shape over the convolution's output. */
function poolShape(s: Conv2dShape): MaxPool2dShape | undefined {
  if (!s.pool) return undefined;
  const { outHeight, outWidth } = conv2dOutputSize(s);
  return { batch: s.batch, channels: s.outChannels, height: outHeight, width: outWidth, ...s.pool };
}

/** The size of the forward's output and of the gradient the weight and bias kernels take: pooled if a pool is fused. */
export function conv2dPooledOutputSize(s: Conv2dShape): { outHeight: number; outWidth: number } {
  const pool = poolShape(s);
  return pool ? maxPool2dOutputSize(pool) : conv2dOutputSize(s);
}

/**
 * Values conv2d_backward_weight holds in registers per array (CAPACITY in its WGSL): the taps of a workgroup and, with
 * a fused pool, the input under a pool window, as it finds each window's maximum again.
 */
const BACKWARD_WEIGHT_CAPACITY = 64;

/** Input values an invocation of conv2d_forward holds in registers (TILE_CAPACITY in its WGSL). */
const FORWARD_TILE_CAPACITY = 64;

/** Output pixels per invocation of conv2d_forward (STRIP): as many as its input tile allows, spread evenly over a row. */
function forwardStrip(s: Conv2dShape): number {
  const { outWidth } = conv2dPooledOutputSize(s);
  const pool = s.pool ?? { kernelSize: 1, stride: 1 };
  const tile = (strip: number) =>
    s.inChannels * ((pool.kernelSize - 1) * s.stride + s.kernelSize) * (((strip - 1) * pool.stride + pool.kernelSize - 1) * s.stride + s.kernelSize);
  let strip = 1;
  while (strip < outWidth && tile(strip + 1) <= FORWARD_TILE_CAPACITY) strip++;
  return Math.ceil(outWidth / Math.ceil(outWidth / strip));
}

/** Whether conv2d_backward_weight can take the gradient of this max pool after the convolution (forward always can). */
export function conv2dCanFusePool(s: Conv2dShape, pool: { kernelSize: number; stride: number }): boolean {
  const window = (pool.kernelSize - 1) * s.stride + s.kernelSize;
  return s.inChannels * window * window <= BACKWARD_WEIGHT_CAPACITY;
}

// Invocations per workgroup of the other kernels, within compatibility mode's 128.
const WG = 64;

/** Invocations per workgroup of conv2d_backward_weight: one SIMD vector of llvmpipe. */
const CHANNELS_WG = 8;

/** The convolution's shape as override constants. */
function shapeConstants(s: Conv2dShape): Record<string, number> {
  conv2dOutputSize(s); // throws if the kernel does not fit
  return {
    IN_C: s.inChannels, OUT_C: s.outChannels, H: s.height, W: s.width, K: s.kernelSize, STRIDE: s.stride, PAD: s.padding,
  };
}

/** The fused pool as override constants: 1×1, stride 1 for none. */
function poolConstants(s: Conv2dShape): Record<string, number> {
  if (s.pool) maxPool2dOutputSize(poolShape(s)!); // throws if the pool does not fit
  return { POOL: s.pool?.kernelSize ?? 1, POOL_STRIDE: s.pool?.stride ?? 1 };
}

/** The `Params` uniform of the forward and both gradients: the shape is in override constants, only the batch varies. */
const conv2dParams = (s: Conv2dShape): number[] => [s.batch];

/** Sizes in floats for the work figures: input, weight, the convolution's own output and the (pooled) output. */
function conv2dSizes(s: Conv2dShape) {
  const { outHeight, outWidth } = conv2dOutputSize(s);
  const pooled = conv2dPooledOutputSize(s);
  const taps = s.inChannels * s.kernelSize * s.kernelSize;
  return {
    taps,
    input: s.batch * s.inChannels * s.height * s.width,
    weight: s.outChannels * taps,
    convolved: s.batch * s.outChannels * outHeight * outWidth,
    output: s.batch * s.outChannels * pooled.outHeight * pooled.outWidth,
  };
}

export const conv2dForward: KernelDef<Conv2dShape> = {
  name: 'conv2d_forward',
  file: 'conv2d_forward',
  inputs: ['input', 'weight', 'bias'],
  outputs: ['output'],
  params: conv2dParams,
  workgroups: (s) => {
    const { outHeight, outWidth } = conv2dPooledOutputSize(s);
    return gridStride(s.batch * outHeight * Math.ceil(outWidth / forwardStrip(s)), WG);
  },
  constants: (s) => ({ ...shapeConstants(s), ...poolConstants(s), RELU: s.relu ? 1 : 0, STRIP: forwardStrip(s), WG }),
  work: (s) => {
    const z = conv2dSizes(s);
    return { flops: 2 * z.convolved * z.taps + (s.pool ? z.convolved : 0), bytes: 4 * (z.input + z.weight + s.outChannels + z.output) };
  },
};

export const conv2dBackwardInput: KernelDef<Conv2dShape> = {
  name: 'conv2d_backward_input',
  file: 'conv2d_backward_input',
  inputs: ['gradOutput', 'weight'],
  outputs: ['gradInput'],
  params: conv2dParams,
  workgroups: (s) => planeTiles(s.batch * s.inChannels, s.height * s.width, WG),
  constants: (s) => {
    if (s.pool) throw new Error('conv2d_backward_input: a fused pool is not supported');
    return { ...shapeConstants(s), WG };
  },
  work: (s) => {
    const z = conv2dSizes(s);
    return { flops: 2 * z.convolved * z.taps, bytes: 4 * (z.convolved + z.weight + z.input) };
  },
};

/**
 * Slices of batch × output pixels that conv2d_backward_weight sums in parallel (one workgroup layer each, for llvmpipe's
 * threads), each long enough that its fixed cost stays small.
 */
export function conv2dBackwardSlices(s: Conv2dShape): number {
  const { outHeight, outWidth } = conv2dPooledOutputSize(s);
  return Math.min(8, Math.max(1, Math.floor((s.batch * outHeight * outWidth) / 2048)));
}

/** Floats in the partial sums conv2d_backward_weight writes and conv2d_backward_sum adds up. */
export function conv2dBackwardPartialsSize(s: Conv2dShape): number {
  return conv2dBackwardSlices(s) * s.outChannels * (s.inChannels * s.kernelSize * s.kernelSize + 1);
}

/** The weight and bias gradients in slices (partials [slices, outC, inC·k·k + 1], the bias last): see conv2dBackwardSum. */
export const conv2dBackwardWeight: KernelDef<Conv2dShape> = {
  name: 'conv2d_backward_weight',
  file: 'conv2d_backward_weight',
  inputs: ['input', 'weight', 'gradOutput'],
  outputs: ['partials'],
  params: conv2dParams,
  // Four channels per invocation; taps in groups of at most BACKWARD_WEIGHT_CAPACITY.
  workgroups: (s) => [
    Math.ceil(s.outChannels / (4 * CHANNELS_WG)), Math.ceil((s.inChannels * s.kernelSize * s.kernelSize) / BACKWARD_WEIGHT_CAPACITY), conv2dBackwardSlices(s),
  ],
  constants: (s) => {
    if (s.pool && !conv2dCanFusePool(s, s.pool)) throw new Error(`conv2d_backward_weight: a fused pool needs the input under a pool window to be at most ${BACKWARD_WEIGHT_CAPACITY} values`);
    return { ...shapeConstants(s), ...poolConstants(s), WG: CHANNELS_WG };
  },
  // With a fused pool it convolves again to find each window's maximum, then takes one tap sum per window.
  work: (s) => {
    const z = conv2dSizes(s);
    const flops = s.pool ? 2 * z.convolved * z.taps + z.convolved + 2 * z.output * (z.taps + 1) : 2 * z.convolved * (z.taps + 1);
    return { flops, bytes: 4 * (z.input + (s.pool ? z.weight : 0) + z.output + conv2dBackwardPartialsSize(s)) };
  },
};

/** Adds up conv2dBackwardWeight's slices into the weight and bias gradients (or onto them, with accumulate). */
export const conv2dBackwardSum: KernelDef<Conv2dShape> = {
  name: 'conv2d_backward_sum',
  file: 'conv2d_backward_sum',
  inputs: ['partials'],
  outputs: ['gradWeight', 'gradBias'],
  params: (s) => [conv2dBackwardSlices(s), s.outChannels, s.inChannels * s.kernelSize * s.kernelSize, s.accumulate ? 1 : 0],
  workgroups: (s) => gridStride(s.outChannels * (s.inChannels * s.kernelSize * s.kernelSize + 1), WG),
  constants: () => ({ WG }),
  work: (s) => {
    const sums = s.outChannels * (s.inChannels * s.kernelSize * s.kernelSize + 1);
    return { flops: conv2dBackwardSlices(s) * sums, bytes: 4 * (conv2dBackwardPartialsSize(s) + (s.accumulate ? 2 : 1) * sums) };
  },
};

/**
 * Calls visit(inputIndex, weightIndex, outputIndex) for every multiply of the convolution that reads a real
 * (not padded) input: the one loop nest behind the forward reference and all three gradient references.
 */
function forEachConv2dTap(s: Conv2dShape, visit: (inputIndex: number, weightIndex: number, outputIndex: number) => void): void {
  const { outHeight, outWidth } = conv2dOutputSize(s);
  const k = s.kernelSize;
  for (let n = 0; n < s.batch; n++) {
    for (let o = 0; o < s.outChannels; o++) {
      for (let oy = 0; oy < outHeight; oy++) {
        for (let ox = 0; ox < outWidth; ox++) {
          const outputIndex = ((n * s.outChannels + o) * outHeight + oy) * outWidth + ox;
          for (let c = 0; c < s.inChannels; c++) {
            for (let i = 0; i < k; i++) {
              const y = oy * s.stride + i - s.padding;
              if (y < 0 || y >= s.height) continue;
              for (let j = 0; j < k; j++) {
                const x = ox * s.stride + j - s.padding;
                if (x < 0 || x >= s.width) continue;
                visit(((n * s.inChannels + c) * s.height + y) * s.width + x, ((o * s.inChannels + c) * k + i) * k + j, outputIndex);
              }
            }
          }
        }
      }
    }
  }
}

/**
 * output[n,o,y,x] = bias[o] + Σ_c,i,j input[n,c, y·stride+i−pad, x·stride+j−pad]·weight[o,c,i,j], then ReLU if shape.relu,
 * then the max pool if shape.pool.
 */
export function conv2dForwardRef(s: Conv2dShape, input: ArrayLike<number>, weight: ArrayLike<number>, bias: ArrayLike<number>): Float64Array {
  const { outHeight, outWidth } = conv2dOutputSize(s);
  const planePixels = outHeight * outWidth;
  const output = new Float64Array(s.batch * s.outChannels * planePixels);
  for (let i = 0; i < output.length; i++) output[i] = bias[Math.floor(i / planePixels) % s.outChannels];
  forEachConv2dTap(s, (inputIndex, weightIndex, outputIndex) => {
    output[outputIndex] += input[inputIndex] * weight[weightIndex];
  });
  if (s.relu) for (let i = 0; i < output.length; i++) output[i] = Math.max(output[i], 0);
  const pool = poolShape(s);
  return pool ? maxPool2dForwardRef(pool, output).output : output;
}

/**
 * With a fused pool, the gradient w.r.t. the convolution's output: gradOutput (the pooled gradient) routed to each
 * window's first maximum of the convolution (without bias, as the kernel finds it); without, gradOutput itself.
 */
function convolutionGradient(s: Conv2dShape, input: ArrayLike<number>, gradOutput: ArrayLike<number>, weight?: ArrayLike<number>): ArrayLike<number> {
  const pool = poolShape(s);
  if (!pool) return gradOutput;
  if (!weight) throw new Error('conv2d with a fused pool: the weight gradient reference needs the weights');
  const plain: Conv2dShape = { ...s, relu: false, pool: undefined };
  const { argmax } = maxPool2dForwardRef(pool, conv2dForwardRef(plain, input, weight, new Float64Array(s.outChannels)));
  return maxPool2dBackwardRef(pool, gradOutput, argmax);
}

/** gradInput[n,c,y',x'] = Σ over taps reading (y',x') of gradOutput[n,o,y,x]·weight[o,c,i,j]. */
export function conv2dBackwardInputRef(s: Conv2dShape, gradOutput: ArrayLike<number>, weight: ArrayLike<number>): Float64Array {
  if (s.pool) throw new Error('conv2d_backward_input: a fused pool is not supported');
  const gradInput = new Float64Array(s.batch * s.inChannels * s.height * s.width);
  forEachConv2dTap(s, (inputIndex, weightIndex, outputIndex) => {
    gradInput[inputIndex] += gradOutput[outputIndex] * weight[weightIndex];
  });
  return gradInput;
}

/**
 * gradWeight[o,c,i,j] = Σ_n,y,x gradY[n,o,y,x]·input[n,c, y·stride+i−pad, x·stride+j−pad], gradY the gradient w.r.t. the
 * convolution's output: gradOutput, or with a fused pool gradOutput routed back through it (which needs the weights).
 */
export function conv2dBackwardWeightRef(s: Conv2dShape, input: ArrayLike<number>, gradOutput: ArrayLike<number>, weight?: ArrayLike<number>): Float64Array {
  const gradY = convolutionGradient(s, input, gradOutput, weight);
  const gradWeight = new Float64Array(s.outChannels * s.inChannels * s.kernelSize * s.kernelSize);
  forEachConv2dTap(s, (inputIndex, weightIndex, outputIndex) => {
    gradWeight[weightIndex] += gradY[outputIndex] * input[inputIndex];
  });
  return gradWeight;
}

/** gradBias[o] = Σ_n,y,x gradOutput[n,o,y,x], gradOutput pooled or not. */
export function conv2dBackwardBiasRef(s: Conv2dShape, gradOutput: ArrayLike<number>): Float64Array {
  const { outHeight, outWidth } = conv2dPooledOutputSize(s);
  const planePixels = outHeight * outWidth;
  const gradBias = new Float64Array(s.outChannels);
  for (let i = 0; i < s.batch * s.outChannels * planePixels; i++) gradBias[Math.floor(i / planePixels) % s.outChannels] += gradOutput[i];
  return gradBias;
}
