// Clustering loss (SCAN): an image and its nearest neighbour in feature space should get the same confident class,
// while the batch as a whole uses every class (see scan_loss.wgsl for the math).
import { f32, type KernelDef } from './kernel';

/** `rows` = 2N rows of `classes` logits: rows i and (i + N) mod 2N are a pair (an image and its neighbour). */
export interface ScanLossShape {
  rows: number;
  classes: number;
  /** λ of the entropy term: how strongly the batch must use every class. */
  entropyWeight: number;
  /** Multiplies gradLogits (the term's weight in the total loss); the loss itself is not scaled. */
  scale: number;
}

/** The classes the kernel's workgroup memory holds. */
export const SCAN_MAX_CLASSES = 64;
const WG = 64;

export const scanLoss: KernelDef<ScanLossShape> = {
  name: 'scan_loss',
  file: 'scan_loss',
  inputs: ['logits'],
  outputs: ['loss', 'probabilities', 'gradLogits'],
  params: (s) => {
    if (s.rows < 2 || s.rows % 2 !== 0) throw new Error(`scan_loss needs an even number of rows (pairs), got ${s.rows}`);
    if (s.classes < 1 || s.classes > SCAN_MAX_CLASSES) throw new Error(`scan_loss handles 1 to ${SCAN_MAX_CLASSES} classes, got ${s.classes}`);
    return [s.rows, s.classes, f32(s.entropyWeight), f32(s.scale)];
  },
  // One workgroup: the mean assignment couples every row of the batch.
  workgroups: () => [1, 1, 1],
  constants: () => ({ WG }),
  // Per row: softmax (about 4K), its share of the mean (K), the pair's dot (2K) and the gradient (about 8K).
  work: (s) => ({ flops: s.rows * s.classes * 15, bytes: 4 * (3 * s.rows * s.classes + s.rows) }),
};

/** Plain loops in float64: the loss per row, p, and gradLogits = scale·∂L/∂logits with L the mean of the losses. */
export function scanLossRef(s: ScanLossShape, logits: ArrayLike<number>): { loss: Float64Array; probabilities: Float64Array; gradLogits: Float64Array } {
  const { rows: R, classes: K, entropyWeight: lambda } = s;
  const N = R / 2;
  const p = new Float64Array(R * K);
  for (let r = 0; r < R; r++) {
    let top = -Infinity;
    for (let k = 0; k < K; k++) top = Math.max(top, logits[r * K + k]);
    let total = 0;
    for (let k = 0; k < K; k++) total += p[r * K + k] = Math.exp(logits[r * K + k] - top);
    for (let k = 0; k < K; k++) p[r * K + k] /= total;
  }
  const mean = new Float64Array(K);
  for (let r = 0; r < R; r++) for (let k = 0; k < K; k++) mean[k] += p[r * K + k] / R;
  let negativeEntropy = 0;
  for (let k = 0; k < K; k++) negativeEntropy += mean[k] * Math.log(Math.max(mean[k], 1e-30));
  const loss = new Float64Array(R);
  const gradLogits = new Float64Array(R * K);
  const g = new Float64Array(K);
  for (let r = 0; r < R; r++) {
    const q = (r + N) % R;
    let dot = 0;
    for (let k = 0; k < K; k++) dot += p[r * K + k] * p[q * K + k];
    dot = Math.max(dot, 1e-30);
    loss[r] = -Math.log(dot) + lambda * negativeEntropy;
    for (let k = 0; k < K; k++) g[k] = -p[q * K + k] / (N * dot) + (lambda * (Math.log(Math.max(mean[k], 1e-30)) + 1)) / R;
    let pg = 0;
    for (let k = 0; k < K; k++) pg += p[r * K + k] * g[k];
    for (let k = 0; k < K; k++) gradLogits[r * K + k] = s.scale * p[r * K + k] * (g[k] - pg);
  }
  return { loss, probabilities: p, gradLogits };
}
