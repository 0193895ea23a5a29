import { describe, expect, it } from 'vitest';
import { AUGMENT_TRANSFORM_SIZE, augmentImages, augmentImagesRef, DEFAULT_AUGMENT, randomTransform, type AugmentShape } from '@seed/kernels';
import { Random, runKernel } from '@seed/runtime';
import { expectClose } from '../support/compare';
import { testGpus } from '../support/gpu';

const transforms = (s: AugmentShape, random: Random) =>
  Float32Array.from(Array.from({ length: s.views }, () => randomTransform(DEFAULT_AUGMENT, s.size, () => random.next())).flat());

const shapes: [string, AugmentShape][] = [
  ['batch 3, 6 views, 2 channels, 7×7', { batch: 3, views: 6, channels: 2, size: 7 }],
  ['batch 5, 5 views, 1×1', { batch: 5, views: 5, channels: 1, size: 1 }],
  ['model: batch 64, 128 views, 1×28×28', { batch: 64, views: 128, channels: 1, size: 28 }],
  ['batch 7, 21 views, 1×29×29 (odd size)', { batch: 7, views: 21, channels: 1, size: 29 }],
];

describe.each(testGpus)('augment_images on $backend', ({ cache }) => {
  it.each(shapes)('%s', async (_, s) => {
    const random = new Random(s.batch * 7 + s.size);
    const images = random.floats(s.batch * s.channels * s.size * s.size, 0, 1);
    const t = transforms(s, random);
    const { augmented } = await runKernel(cache, augmentImages, s, { images, transforms: t }, { augmented: random.floats(s.views * s.channels * s.size * s.size) });
    expectClose('augment_images', augmented, augmentImagesRef(s, images, t));
  });
});

describe('augment_images reference', () => {
  const s: AugmentShape = { batch: 1, views: 1, channels: 1, size: 9 };
  const image = new Random(3).floats(81, 0, 1);
  const view = (t: number[]) => augmentImagesRef(s, image, t);

  it('the identity transform with no box returns the image', () => {
    expect(Array.from(view([1, 0, 0, 1, 0, 0, 0, 0, 0, 0]))).toEqual(Array.from(image, (v) => v));
  });

  it('a shift by whole pixels moves the image, zeros coming in', () => {
    // The inverse map reads source x = u − 2: the output is the image moved 2 pixels right.
    const moved = view([1, 0, 0, 1, -2, 0, 0, 0, 0, 0]);
    for (let i = 0; i < 9; i++) for (let j = 0; j < 9; j++) expect(moved[i * 9 + j]).toBeCloseTo(j < 2 ? 0 : image[i * 9 + j - 2], 12);
  });

  it('a quarter turn equals numpy.rot90 of a square image', () => {
    // Source (x, y) = (−v, u) about the centre: output pixel (i, j) reads row j, column 8 − i... as rot90 does.
    const turned = view([0, -1, 1, 0, 0, 0, 0, 0, 0, 0]);
    for (let i = 0; i < 9; i++) for (let j = 0; j < 9; j++) expect(turned[i * 9 + j]).toBeCloseTo(image[j * 9 + 8 - i], 12);
  });

  it('the erased box is zero and nothing else changes', () => {
    const erased = view([1, 0, 0, 1, 0, 0, 2, 3, 5, 4]);
    for (let i = 0; i < 9; i++) for (let j = 0; j < 9; j++) expect(erased[i * 9 + j]).toBe(j >= 2 && j < 5 && i === 3 ? 0 : image[i * 9 + j]);
  });

  it('randomTransform draws within its ranges: the forward map of a drawn view has the drawn scale and keeps a pixel inside the shift', () => {
    const random = new Random(5);
    for (let n = 0; n < 200; n++) {
      const t = randomTransform({ ...DEFAULT_AUGMENT, eraseProbability: 1 }, 28, () => random.next());
      expect(t).toHaveLength(AUGMENT_TRANSFORM_SIZE);
      const det = t[0] * t[3] - t[1] * t[2];
      // |det A⁻¹| = 1/s² for A = R·Sh·diag(s, s) (rotation and shear keep area).
      expect(1 / Math.sqrt(det)).toBeGreaterThanOrEqual(1 - DEFAULT_AUGMENT.scale - 1e-9);
      expect(1 / Math.sqrt(det)).toBeLessThanOrEqual(1 + DEFAULT_AUGMENT.scale + 1e-9);
      expect(t[8] - t[6]).toBeGreaterThanOrEqual(2);
      expect(t[8]).toBeLessThanOrEqual(28);
      expect(t[9]).toBeLessThanOrEqual(28);
    }
  });
});
