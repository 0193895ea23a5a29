// AdamW over one flat parameter buffer: one dispatch updates every tensor.
import { f32, grid1d, type KernelDef } from './kernel';

export interface AdamShape {
  count: number;
  lr: number;
  beta1: number;
  beta2: number;
  epsilon: number;
  weightDecay: number;
  /** Step number t ≥ 1, for the bias corrections. */
  step: number;
}

const WG = 64;

/** Bias corrections 1/(1−β1^t) and 1/(1−β2^t), computed in float64 on the CPU. */
function corrections(s: AdamShape): [number, number] {
  if (!(Number.isInteger(s.step) && s.step >= 1)) throw new Error(`adam_update: step must be an integer ≥ 1, not ${s.step}`);
  return [1 / (1 - s.beta1 ** s.step), 1 / (1 - s.beta2 ** s.step)];
}

/** params and state (m, v interleaved: state[2i] = m_i, state[2i+1] = v_i) updated in place from grads. */
export const adamUpdate: KernelDef<AdamShape> = {
  name: 'adam_update',
  file: 'adam_update',
  inputs: ['grads'],
  outputs: ['params', 'state'],
  params: (s) => {
    const [correction1, correction2] = corrections(s);
    return [s.count, f32(s.lr), f32(s.beta1), f32(s.beta2), f32(s.epsilon), f32(s.weightDecay), f32(correction1), f32(correction2)];
  },
  workgroups: (s) => grid1d(s.count, WG),
  constants: () => ({ WG }),
  // Per parameter: both moments, the bias-corrected step with its square root and division, the decay: about 16.
  // Bytes: the gradient read, the parameter and both moments read and written.
  work: (s) => ({ flops: 16 * s.count, bytes: 4 * 7 * s.count }),
};

export function adamUpdateRef(
  s: AdamShape, params: ArrayLike<number>, grads: ArrayLike<number>, state: ArrayLike<number>,
): { params: Float64Array; state: Float64Array } {
  const [correction1, correction2] = corrections(s);
  const nextParams = Float64Array.from(params);
  const nextState = Float64Array.from(state);
  for (let i = 0; i < s.count; i++) {
    const g = grads[i];
    const m = s.beta1 * state[2 * i] + (1 - s.beta1) * g;
    const v = s.beta2 * state[2 * i + 1] + (1 - s.beta2) * g * g;
    nextState[2 * i] = m;
    nextState[2 * i + 1] = v;
    nextParams[i] -= s.lr * ((m * correction1) / (Math.sqrt(v * correction2) + s.epsilon) + s.weightDecay * params[i]);
  }
  return { params: nextParams, state: nextState };
}
