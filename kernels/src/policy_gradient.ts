// Importance-weighted policy gradient on logged (context, action, propensity, reward) tuples: the reinforce half of the fused loss.
import { logSoftmaxRow } from './cross_entropy';
import { f32, grid1d, type KernelDef } from './kernel';

export interface PolicyGradientShape {
  batch: number;
  classes: number;
  /** Subtracted from each reward (variance reduction). */
  baseline: number;
  /** Upper bound on the importance weight π/p (Infinity: no clipping). */
  clip: number;
  /** Multiplies gradLogits (e.g. (1 − α) / batch in the fused loss); the loss itself is not scaled. */
  scale: number;
  /** Divide each weight by the batch's sum of weights (self-normalised importance sampling). */
  selfNormalize: boolean;
  /**
   * 'ratio' (default): w = π(a|x)/p, the unbiased off-policy policy gradient of the expected reward.
   * 'inverse': w = 1/p, whose expectation over logged actions is Σ_a (r(x,a) − baseline)·∇log π(a|x): for a reward of 1
   * on one action, the cross-entropy gradient towards it. It does not fade on actions the policy now thinks unlikely.
   */
  weighting?: 'ratio' | 'inverse';
  /**
   * λ, the weight of the complementary-label term −λ·w·n·log(1 − π(a|x)) on samples whose reward said "not a"
   * (n = 1 in `negatives`); 0 (default) leaves the loss as plain REINFORCE.
   */
  complementary?: number;
}

const WG = 64;

/** See policy_gradient.wgsl for the math. Self-normalising runs one workgroup: it needs the sum over the batch. */
export const policyGradient: KernelDef<PolicyGradientShape> = {
  name: 'policy_gradient',
  file: 'policy_gradient',
  inputs: ['logits', 'actions', 'propensities', 'rewards', 'negatives'],
  outputs: ['loss', 'gradLogits', 'weights'],
  params: (s) => [s.batch, s.classes, f32(s.baseline), f32(s.clip), f32(s.scale), f32(s.complementary ?? 0)],
  workgroups: (s) => (s.selfNormalize ? [1, 1, 1] : grid1d(s.batch, WG)),
  constants: (s) => ({ WG, SELF_NORMALIZE: s.selfNormalize ? 1 : 0, INVERSE: s.weighting === 'inverse' ? 1 : 0 }),
  // Per sample: the softmax (max, exp, sum), the other classes' sum, the clipped weight and the gradient.
  work: (s) => ({ flops: s.batch * (8 * s.classes + 12), bytes: 4 * s.batch * (2 * s.classes + 6) }),
};

/**
 * gradLogits = ∂(scale·Σ_b loss_b)/∂logits with w held constant:
 * scale·w_b·(λ·n_b·π_a/(1 − π_a) − (r_b − baseline))·(onehot(a_b) − π). `negatives` defaults to all zeros.
 */
export function policyGradientRef(
  s: PolicyGradientShape, logits: ArrayLike<number>, actions: ArrayLike<number>,
  propensities: ArrayLike<number>, rewards: ArrayLike<number>, negatives: ArrayLike<number> = new Float64Array(s.batch),
): { loss: Float64Array; gradLogits: Float64Array; weights: Float64Array } {
  const { batch: B, classes: K } = s;
  const logP = Array.from({ length: B }, (_, b) => logSoftmaxRow(logits, b, K));
  const weights = Float64Array.from({ length: B }, (_, b) => Math.min((s.weighting === 'inverse' ? 1 : Math.exp(logP[b][actions[b]])) / propensities[b], s.clip));
  if (s.selfNormalize) {
    const total = weights.reduce((sum, w) => sum + w, 0);
    weights.forEach((w, b) => { weights[b] = total > 0 ? w / total : 0; });
  }
  const loss = new Float64Array(B);
  const gradLogits = new Float64Array(B * K);
  for (let b = 0; b < B; b++) {
    const advantage = weights[b] * (rewards[b] - s.baseline);
    const negative = (s.complementary ?? 0) * weights[b] * negatives[b];
    const chosen = Math.exp(logP[b][actions[b]]);
    const others = logP[b].reduce((sum, l, k) => (k === actions[b] ? sum : sum + Math.exp(l)), 0);
    const pushDown = negative ? negative * (chosen / others) : 0;
    loss[b] = -advantage * logP[b][actions[b]] - (negative ? negative * Math.log(others) : 0);
    for (let k = 0; k < K; k++) {
      gradLogits[b * K + k] = s.scale * (pushDown - advantage) * ((k === actions[b] ? 1 : 0) - Math.exp(logP[b][k]));
    }
  }
  return { loss, gradLogits, weights };
}
