// 2-D convolution (NCHW, weight [outC, inC, k, k], bias [outC], PyTorch conventions): forward and the three gradients.
import { grid1d, planeTiles, type KernelDef } from './kernel';

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
  /** Weight and bias gradients only: add to the output instead of overwriting it. */
  accumulate?: boolean;
}

export function conv2dOutputSize(s: Conv2dShape): { outHeight: number; outWidth: number } {
  const outHeight = Math.floor((s.height + 2 * s.padding - s.kernelSize) / s.stride) + 1;
  const outWidth = Math.floor((s.width + 2 * s.padding - s.kernelSize) / s.stride) + 1;
  if (!(s.stride >= 1 && s.kernelSize >= 1 && outHeight >= 1 && outWidth >= 1)) {
    throw new Error(`conv2d: kernel ${s.kernelSize}, stride ${s.stride}, padding ${s.padding} do not fit a ${s.height}×${s.width} image`);
  }
  return { outHeight, outWidth };
}

// Workgroup size: a power of two (the reductions halve it) within compatibility mode's 128 invocations.
const WG = 64;

/** Output channels per invocation of conv2d_forward: CHANNELS in its WGSL. */
const FORWARD_CHANNELS = 8;

/** Kernel taps per workgroup of conv2d_backward_weight: TAPS in its WGSL. */
const BACKWARD_WEIGHT_TAPS = 9;

/** The `Params` uniform shared by all four conv kernels. */
function conv2dParams(s: Conv2dShape): number[] {
  const { outHeight, outWidth } = conv2dOutputSize(s);
  return [s.batch, s.inChannels, s.outChannels, s.height, s.width, s.kernelSize, s.stride, s.padding, outHeight, outWidth];
}

export const conv2dForward: KernelDef<Conv2dShape> = {
  name: 'conv2d_forward',
  file: 'conv2d_forward',
  inputs: ['input', 'weight', 'bias'],
  outputs: ['output'],
  params: conv2dParams,
  workgroups: (s) => {
    const { outHeight, outWidth } = conv2dOutputSize(s);
    return planeTiles(s.batch * Math.ceil(s.outChannels / FORWARD_CHANNELS), outHeight * outWidth, WG);
  },
  constants: (s) => ({ WG, RELU: s.relu ? 1 : 0 }),
};

export const conv2dBackwardInput: KernelDef<Conv2dShape> = {
  name: 'conv2d_backward_input',
  file: 'conv2d_backward_input',
  inputs: ['gradOutput', 'weight'],
  outputs: ['gradInput'],
  params: conv2dParams,
  workgroups: (s) => planeTiles(s.batch * s.inChannels, s.height * s.width, WG),
  constants: () => ({ WG }),
};

export const conv2dBackwardWeight: KernelDef<Conv2dShape> = {
  name: 'conv2d_backward_weight',
  file: 'conv2d_backward_weight',
  inputs: ['input', 'gradOutput'],
  outputs: ['gradWeight'],
  params: conv2dParams,
  workgroups: (s) => grid1d(s.outChannels * s.inChannels * Math.ceil((s.kernelSize * s.kernelSize) / BACKWARD_WEIGHT_TAPS), 1),
  constants: (s) => ({ WG, ACCUMULATE: s.accumulate ? 1 : 0 }),
};

export const conv2dBackwardBias: KernelDef<Conv2dShape> = {
  name: 'conv2d_backward_bias',
  file: 'conv2d_backward_bias',
  inputs: ['gradOutput'],
  outputs: ['gradBias'],
  params: conv2dParams,
  workgroups: (s) => grid1d(s.outChannels, 1),
  constants: (s) => ({ WG, ACCUMULATE: s.accumulate ? 1 : 0 }),
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

/** output[n,o,y,x] = bias[o] + Σ_c,i,j input[n,c, y·stride+i−pad, x·stride+j−pad]·weight[o,c,i,j], then ReLU if shape.relu. */
export function conv2dForwardRef(s: Conv2dShape, input: ArrayLike<number>, weight: ArrayLike<number>, bias: ArrayLike<number>): Float64Array {
  const { outHeight, outWidth } = conv2dOutputSize(s);
  const planePixels = outHeight * outWidth;
  const output = new Float64Array(s.batch * s.outChannels * planePixels);
  for (let i = 0; i < output.length; i++) output[i] = bias[Math.floor(i / planePixels) % s.outChannels];
  forEachConv2dTap(s, (inputIndex, weightIndex, outputIndex) => {
    output[outputIndex] += input[inputIndex] * weight[weightIndex];
  });
  if (s.relu) for (let i = 0; i < output.length; i++) output[i] = Math.max(output[i], 0);
  return output;
}

/** gradInput[n,c,y',x'] = Σ over taps reading (y',x') of gradOutput[n,o,y,x]·weight[o,c,i,j]. */
export function conv2dBackwardInputRef(s: Conv2dShape, gradOutput: ArrayLike<number>, weight: ArrayLike<number>): Float64Array {
  const gradInput = new Float64Array(s.batch * s.inChannels * s.height * s.width);
  forEachConv2dTap(s, (inputIndex, weightIndex, outputIndex) => {
    gradInput[inputIndex] += gradOutput[outputIndex] * weight[weightIndex];
  });
  return gradInput;
}

/** gradWeight[o,c,i,j] = Σ_n,y,x gradOutput[n,o,y,x]·input[n,c, y·stride+i−pad, x·stride+j−pad]. */
export function conv2dBackwardWeightRef(s: Conv2dShape, input: ArrayLike<number>, gradOutput: ArrayLike<number>): Float64Array {
  const gradWeight = new Float64Array(s.outChannels * s.inChannels * s.kernelSize * s.kernelSize);
  forEachConv2dTap(s, (inputIndex, weightIndex, outputIndex) => {
    gradWeight[weightIndex] += gradOutput[outputIndex] * input[inputIndex];
  });
  return gradWeight;
}

/** gradBias[o] = Σ_n,y,x gradOutput[n,o,y,x]. */
export function conv2dBackwardBiasRef(s: Conv2dShape, gradOutput: ArrayLike<number>): Float64Array {
  const { outHeight, outWidth } = conv2dOutputSize(s);
  const planePixels = outHeight * outWidth;
  const gradBias = new Float64Array(s.outChannels);
  for (let i = 0; i < s.batch * s.outChannels * planePixels; i++) gradBias[Math.floor(i / planePixels) % s.outChannels] += gradOutput[i];
  return gradBias;
}
