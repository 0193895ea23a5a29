// 2-D max pooling without padding (NCHW): forward with argmax, and the gradient routed back through the argmax.
import { gridStride, type KernelDef } from './kernel';

export interface MaxPool2dShape { batch: number; channels: number; height: number; width: number; kernelSize: number; stride: number }

export function maxPool2dOutputSize(s: MaxPool2dShape): { outHeight: number; outWidth: number } {
  const outHeight = Math.floor((s.height - s.kernelSize) / s.stride) + 1;
  const outWidth = Math.floor((s.width - s.kernelSize) / s.stride) + 1;
  if (!(s.stride >= 1 && s.kernelSize >= 1 && outHeight >= 1 && outWidth >= 1)) {
    throw new Error(`maxpool2d: kernel ${s.kernelSize}, stride ${s.stride} do not fit a ${s.height}×${s.width} image`);
  }
  return { outHeight, outWidth };
}

const WG = 64;

/** The `Params` uniform: the plane shape is in override constants, only the number of planes varies. */
const maxPool2dParams = (s: MaxPool2dShape): number[] => [s.batch * s.channels];

function maxPool2dConstants(s: MaxPool2dShape): Record<string, number> {
  maxPool2dOutputSize(s);
  return { H: s.height, W: s.width, K: s.kernelSize, STRIDE: s.stride, WG };
}

export const maxPool2dForward: KernelDef<MaxPool2dShape> = {
  name: 'maxpool2d_forward',
  file: 'maxpool2d_forward',
  inputs: ['input'],
  outputs: ['output', 'argmax'],
  params: maxPool2dParams,
  workgroups: (s) => {
    const { outHeight, outWidth } = maxPool2dOutputSize(s);
    return gridStride(s.batch * s.channels * outHeight * outWidth, WG);
  },
  constants: maxPool2dConstants,
  work: (s) => {
    const { outHeight, outWidth } = maxPool2dOutputSize(s);
    const windows = s.batch * s.channels * outHeight * outWidth;
    return { flops: windows * s.kernelSize ** 2, bytes: 4 * (s.batch * s.channels * s.height * s.width + 2 * windows) };
  },
};

export const maxPool2dBackward: KernelDef<MaxPool2dShape> = {
  name: 'maxpool2d_backward',
  file: 'maxpool2d_backward',
  inputs: ['gradOutput', 'argmax'],
  outputs: ['gradInput'],
  params: maxPool2dParams,
  workgroups: (s) => gridStride(s.batch * s.channels * s.height * s.width, WG),
  constants: maxPool2dConstants,
  work: (s) => {
    const { outHeight, outWidth } = maxPool2dOutputSize(s);
    const windows = s.batch * s.channels * outHeight * outWidth;
    return { flops: windows, bytes: 4 * (2 * windows + s.batch * s.channels * s.height * s.width) };
  },
};

/** output = max over each window; argmax = flat input index of the first max in row-major window order. */
export function maxPool2dForwardRef(s: MaxPool2dShape, input: ArrayLike<number>): { output: Float64Array; argmax: Uint32Array } {
  const { outHeight, outWidth } = maxPool2dOutputSize(s);
  const count = s.batch * s.channels * outHeight * outWidth;
  const output = new Float64Array(count);
  const argmax = new Uint32Array(count);
  for (let w = 0; w < count; w++) {
    const plane = Math.floor(w / (outHeight * outWidth));
    const oy = Math.floor(w / outWidth) % outHeight;
    const ox = w % outWidth;
    let best = -Infinity;
    let bestIndex = -1;
    for (let i = 0; i < s.kernelSize; i++) {
      for (let j = 0; j < s.kernelSize; j++) {
        const at = (plane * s.height + oy * s.stride + i) * s.width + ox * s.stride + j;
        if (bestIndex < 0 || input[at] > best) {
          best = input[at];
          bestIndex = at;
        }
      }
    }
    output[w] = best;
    argmax[w] = bestIndex;
  }
  return { output, argmax };
}

/** gradInput[p] = Σ_w [argmax[w] = p]·gradOutput[w]: overlapping windows that pick the same input add up. */
export function maxPool2dBackwardRef(s: MaxPool2dShape, gradOutput: ArrayLike<number>, argmax: ArrayLike<number>): Float64Array {
  const gradInput = new Float64Array(s.batch * s.channels * s.height * s.width);
  for (let w = 0; w < gradOutput.length; w++) gradInput[argmax[w]] += gradOutput[w];
  return gradInput;
}
