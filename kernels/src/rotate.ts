// Rotation pretext task: each image four times, turned by 0°, 90°, 180°, 270° counter-clockwise; sample m's label is m % 4.
import { gridStride, type KernelDef } from './kernel';

/** batch square images of channels × size × size. */
export interface RotateShape { batch: number; channels: number; size: number }

const WG = 64;

export const rotateImages: KernelDef<RotateShape> = {
  name: 'rotate_images',
  file: 'rotate_images',
  inputs: ['images'],
  outputs: ['rotated'],
  // The image shape is in override constants, only the batch varies.
  params: (s) => [s.batch],
  workgroups: (s) => gridStride(4 * s.batch * s.channels * s.size * s.size, WG),
  constants: (s) => ({ CHANNELS: s.channels, SIZE: s.size, WG }),
  work: (s) => ({ flops: 0, bytes: 4 * 5 * s.batch * s.channels * s.size * s.size }),
};

/** rotated[4n+k, c] = numpy.rot90(images[n, c], k): [B,C,S,S] → [4B,C,S,S], built as k single quarter turns. */
export function rotateImagesRef(s: RotateShape, images: ArrayLike<number>): Float64Array {
  const pixels = s.size * s.size;
  const rotated = new Float64Array(4 * s.batch * s.channels * pixels);
  for (let n = 0; n < s.batch; n++) {
    for (let c = 0; c < s.channels; c++) {
      let image: Float64Array = new Float64Array(pixels);
      for (let p = 0; p < pixels; p++) image[p] = images[(n * s.channels + c) * pixels + p];
      for (let k = 0; k < 4; k++) {
        rotated.set(image, ((4 * n + k) * s.channels + c) * pixels);
        image = quarterTurn(image, s.size);
      }
    }
  }
  return rotated;
}

/** numpy.rot90(m): turned[i][j] = m[j][size−1−i]. */
function quarterTurn(m: Float64Array, size: number): Float64Array {
  const turned = new Float64Array(m.length);
  for (let i = 0; i < size; i++) {
    for (let j = 0; j < size; j++) turned[i * size + j] = m[j * size + size - 1 - i];
  }
  return turned;
}
