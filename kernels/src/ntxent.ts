// Contrastive loss (SimCLR's NT-Xent): two views of each image should have the closest embeddings of the batch.
import { f32, grid1d, type KernelDef } from './kernel';

/** `rows` = 2N embeddings of `dim` values: rows i and (i + N) mod 2N are two views of one image. */
export interface NtXentShape {
  rows: number;
  dim: number;
  /** τ: lower makes the loss care more about the hardest negatives. */
  temperature: number;
  /** Multiplies gradZ (e.g. weight / rows for a mean); the loss itself is not scaled. */
  scale: number;
}

const WG = 64;

export const ntxentLoss: KernelDef<NtXentShape> = {
  name: 'ntxent_loss',
  file: 'ntxent_loss',
  inputs: ['z'],
  outputs: ['loss', 'probabilities', 'norms'],
  params: (s) => [s.rows, s.dim, f32(1 / s.temperature)],
  workgroups: (s) => grid1d(s.rows, WG),
  constants: () => ({ WG }),
  // Per pair: a dot product and a norm (4·dim), the exp and the division.
  work: (s) => ({ flops: s.rows * s.rows * (4 * s.dim + 4), bytes: 4 * (s.rows * s.dim + s.rows * s.rows + 2 * s.rows) }),
};

export const ntxentBackward: KernelDef<NtXentShape> = {
  name: 'ntxent_backward',
  file: 'ntxent_backward',
  inputs: ['z', 'probabilities', 'norms'],
  outputs: ['gradZ'],
  params: (s) => [s.rows, s.dim, f32(1 / s.temperature), f32(s.scale)],
  workgroups: (s) => grid1d(s.rows, WG),
  constants: () => ({ WG }),
  work: (s) => ({ flops: s.rows * s.rows * (2 * s.dim + 3) + 6 * s.rows * s.dim, bytes: 4 * (2 * s.rows * s.dim + s.rows * s.rows + s.rows) }),
};

/** Plain loops of both kernels in float64: the loss per row, p, and gradZ = scale·∂Σloss/∂z. */
export function ntxentRef(s: NtXentShape, z: ArrayLike<number>): { loss: Float64Array; probabilities: Float64Array; gradZ: Float64Array } {
  const { rows: R, dim: D } = s;
  const half = R / 2;
  const u = new Float64Array(R * D);
  const norms = new Float64Array(R);
  for (let i = 0; i < R; i++) {
    let sum = 0;
    for (let d = 0; d < D; d++) sum += z[i * D + d] ** 2;
    norms[i] = Math.max(Math.sqrt(sum), 1e-12);
    for (let d = 0; d < D; d++) u[i * D + d] = z[i * D + d] / norms[i];
  }
  const p = new Float64Array(R * R);
  const loss = new Float64Array(R);
  for (let i = 0; i < R; i++) {
    let total = 0;
    for (let j = 0; j < R; j++) {
      if (j === i) continue;
      let dot = 0;
      for (let d = 0; d < D; d++) dot += u[i * D + d] * u[j * D + d];
      p[i * R + j] = Math.exp((dot - 1) / s.temperature);
      total += p[i * R + j];
    }
    for (let j = 0; j < R; j++) p[i * R + j] /= total;
    loss[i] = -Math.log(p[i * R + ((i + half) % R)]);
  }
  const gradZ = new Float64Array(R * D);
  for (let i = 0; i < R; i++) {
    const g = new Float64Array(D);
    for (let j = 0; j < R; j++) {
      if (j === i) continue;
      const c = p[i * R + j] + p[j * R + i] - (j === (i + half) % R ? 2 : 0);
      for (let d = 0; d < D; d++) g[d] += (c * u[j * D + d]) / s.temperature;
    }
    let radial = 0;
    for (let d = 0; d < D; d++) radial += g[d] * u[i * D + d];
    for (let d = 0; d < D; d++) gradZ[i * D + d] = (s.scale * (g[d] - radial * u[i * D + d])) / norms[i];
  }
  return { loss, probabilities: p, gradZ };
}
