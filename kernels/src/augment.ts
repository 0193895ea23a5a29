// Random views for self-supervised learning: each view an affine warp (rotation, scale, shear, shift) of an image with
// an optional erased box, sampled bilinearly. The random draws happen on the CPU (10 numbers a view), the pixels on the GPU.
import { gridStride, type KernelDef } from './kernel';

/** `views` outputs from `batch` square images of channels × size × size; view m shows image m % batch. */
export interface AugmentShape { batch: number; views: number; channels: number; size: number }

/** Numbers per view in `transforms`: the inverse map [a, b, c, d, tx, ty] and the erased box [x0, y0, x1, y1]. */
export const AUGMENT_TRANSFORM_SIZE = 10;

const WG = 64;

export const augmentImages: KernelDef<AugmentShape> = {
  name: 'augment_images',
  file: 'augment_images',
  inputs: ['images', 'transforms'],
  outputs: ['augmented'],
  params: (s) => [s.batch, s.views],
  workgroups: (s) => gridStride(s.views * s.channels * s.size * s.size, WG),
  constants: (s) => ({ CHANNELS: s.channels, SIZE: s.size, WG }),
  // Per output pixel: the two coordinates (4 multiply-adds) and three linear interpolations (2 flops each).
  work: (s) => ({ flops: 14 * s.views * s.channels * s.size * s.size, bytes: 4 * s.views * (2 * s.channels * s.size * s.size + AUGMENT_TRANSFORM_SIZE) }),
};

/** The ranges views are drawn from; a forward transform scale·shear·rotation, then a shift in pixels. */
export interface AugmentRanges {
  /** Largest rotation either way, degrees. */
  degrees: number;
  /** Scale drawn from [1 − scale, 1 + scale]. */
  scale: number;
  /** Largest horizontal shear either way (x += shear·y). */
  shear: number;
  /** Largest shift either way, pixels. */
  shift: number;
  /** Chance that a view has a box erased; the box's sides are drawn from [2, eraseMax] pixels. */
  eraseProbability: number;
  eraseMax: number;
}

export const DEFAULT_AUGMENT: AugmentRanges = { degrees: 20, scale: 0.15, shear: 0.3, shift: 3, eraseProbability: 0.5, eraseMax: 10 };

/**
 * The 10 numbers of one view: the forward map A = R(θ)·Sh(k)·diag(s, s), shift t, inverted (source = A⁻¹(out − t)),
 * and the erased box. `uniform()` draws from [0, 1).
 */
export function randomTransform(ranges: AugmentRanges, size: number, uniform: () => number): number[] {
  const between = (low: number, high: number) => low + (high - low) * uniform();
  const theta = (between(-ranges.degrees, ranges.degrees) * Math.PI) / 180;
  const s = between(1 - ranges.scale, 1 + ranges.scale);
  const k = between(-ranges.shear, ranges.shear);
  const tx = between(-ranges.shift, ranges.shift);
  const ty = between(-ranges.shift, ranges.shift);
  const cos = Math.cos(theta);
  const sin = Math.sin(theta);
  // A = R·Sh·S with Sh = [[1, k], [0, 1]].
  const a = s * cos, b = s * (cos * k - sin), c = s * sin, d = s * (sin * k + cos);
  const det = a * d - b * c;
  const [ia, ib, ic, id] = [d / det, -b / det, -c / det, a / det];
  let box = [0, 0, 0, 0];
  if (uniform() < ranges.eraseProbability) {
    const w = Math.floor(between(2, ranges.eraseMax + 1));
    const h = Math.floor(between(2, ranges.eraseMax + 1));
    const x0 = Math.floor(between(0, size - w + 1));
    const y0 = Math.floor(between(0, size - h + 1));
    box = [x0, y0, x0 + w, y0 + h];
  }
  return [ia, ib, ic, id, -(ia * tx + ib * ty), -(ic * tx + id * ty), ...box];
}

/** Plain loops of augment_images.wgsl, in float64. */
export function augmentImagesRef(s: AugmentShape, images: ArrayLike<number>, transforms: ArrayLike<number>): Float64Array {
  const { size: S, channels: C } = s;
  const plane = S * S;
  const centre = (S - 1) / 2;
  const out = new Float64Array(s.views * C * plane);
  for (let m = 0; m < s.views; m++) {
    const t = Array.from({ length: AUGMENT_TRANSFORM_SIZE }, (_, q) => transforms[m * AUGMENT_TRANSFORM_SIZE + q]);
    for (let c = 0; c < C; c++) {
      const base = ((m % s.batch) * C + c) * plane;
      const at = (x: number, y: number) => (x < 0 || y < 0 || x >= S || y >= S ? 0 : images[base + y * S + x]);
      for (let i = 0; i < S; i++) {
        for (let j = 0; j < S; j++) {
          const o = (m * C + c) * plane + i * S + j;
          if (j >= t[6] && j < t[8] && i >= t[7] && i < t[9]) continue;
          const u = j - centre;
          const v = i - centre;
          const x = t[0] * u + t[1] * v + t[4] + centre;
          const y = t[2] * u + t[3] * v + t[5] + centre;
          const x0 = Math.floor(x);
          const y0 = Math.floor(y);
          const fx = x - x0;
          const fy = y - y0;
          const top = at(x0, y0) * (1 - fx) + at(x0 + 1, y0) * fx;
          const bottom = at(x0, y0 + 1) * (1 - fx) + at(x0 + 1, y0 + 1) * fx;
          out[o] = top * (1 - fy) + bottom * fy;
        }
      }
    }
  }
  return out;
}
