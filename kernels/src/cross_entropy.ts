// Softmax cross-entropy over classes, weighted per sample: the self-supervised (rotation) and supervised loss.
import { f32, grid1d, type KernelDef } from './kernel';

export interface CrossEntropyShape {
  batch: number;
  classes: number;
  /** Multiplies gradLogits (e.g. α / batch for a mean in the fused loss); the loss itself is not scaled. */
  scale: number;
}

const WG = 64;

/** loss[b] = weights[b]·(−log softmax(logits_b)[labels_b]); gradLogits = scale·weights[b]·(softmax − onehot). */
export const softmaxCrossEntropy: KernelDef<CrossEntropyShape> = {
  name: 'softmax_cross_entropy',
  file: 'softmax_cross_entropy',
  inputs: ['logits', 'labels', 'weights'],
  outputs: ['loss', 'gradLogits'],
  params: (s) => [s.batch, s.classes, f32(s.scale)],
  workgroups: (s) => grid1d(s.batch, WG),
  constants: () => ({ WG }),
  // Per sample: the row max, exp, sum, log and the gradient (softmax − one-hot)·weight·scale.
  work: (s) => ({ flops: s.batch * (5 * s.classes + 4), bytes: 4 * s.batch * (2 * s.classes + 3) }),
};

/** log softmax of row b, computed with the row max subtracted. */
export function logSoftmaxRow(logits: ArrayLike<number>, b: number, classes: number): Float64Array {
  let top = -Infinity;
  for (let k = 0; k < classes; k++) top = Math.max(top, logits[b * classes + k]);
  let sum = 0;
  for (let k = 0; k < classes; k++) sum += Math.exp(logits[b * classes + k] - top);
  const logSum = Math.log(sum);
  return Float64Array.from({ length: classes }, (_, k) => logits[b * classes + k] - top - logSum);
}

/** gradLogits = ∂(scale·Σ_b loss_b)/∂logits with the weights held constant: scale·w_b·(softmax − onehot(label)). */
export function softmaxCrossEntropyRef(
  s: CrossEntropyShape, logits: ArrayLike<number>, labels: ArrayLike<number>, weights: ArrayLike<number>,
): { loss: Float64Array; gradLogits: Float64Array } {
  const { batch: B, classes: K } = s;
  const loss = new Float64Array(B);
  const gradLogits = new Float64Array(B * K);
  for (let b = 0; b < B; b++) {
    const logP = logSoftmaxRow(logits, b, K);
    loss[b] = -weights[b] * logP[labels[b]];
    for (let k = 0; k < K; k++) {
      gradLogits[b * K + k] = s.scale * weights[b] * (Math.exp(logP[k]) - (k === labels[b] ? 1 : 0));
    }
  }
  return { loss, gradLogits };
}
