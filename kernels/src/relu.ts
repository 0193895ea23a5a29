// ReLU, forward and backward, elementwise over any shape.
import { gridStride, type KernelDef } from './kernel';

export interface ElementwiseShape { count: number }

const WG = 64;

export const reluForward: KernelDef<ElementwiseShape> = {
  name: 'relu_forward',
  file: 'relu_forward',
  inputs: ['x'],
  outputs: ['y'],
  params: (s) => [s.count],
  workgroups: (s) => gridStride(s.count, WG),
  constants: () => ({ WG }),
  work: (s) => ({ flops: s.count, bytes: 8 * s.count }),
};

export const reluBackward: KernelDef<ElementwiseShape> = {
  name: 'relu_backward',
  file: 'relu_backward',
  inputs: ['y', 'dy'],
  outputs: ['dx'],
  params: (s) => [s.count],
  workgroups: (s) => gridStride(s.count, WG),
  constants: () => ({ WG }),
  work: (s) => ({ flops: s.count, bytes: 12 * s.count }),
};

export function reluForwardRef(x: ArrayLike<number>): Float64Array {
  const y = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) y[i] = Math.max(x[i], 0);
  return y;
}

/** dx given the forward output y (y > 0 exactly where x > 0). */
export function reluBackwardRef(y: ArrayLike<number>, dy: ArrayLike<number>): Float64Array {
  const dx = new Float64Array(y.length);
  for (let i = 0; i < y.length; i++) dx[i] = y[i] > 0 ? dy[i] : 0;
  return dx;
}
