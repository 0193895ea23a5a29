import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { rotateImages, rotateImagesRef, type RotateShape } from '@seed/kernels';
import { Random, runKernel } from '@seed/runtime';
import { expectClose } from '../support/compare';
import { testGpus } from '../support/gpu';

interface RotateGolden { name: string; shape: RotateShape; images: number[]; rotated: number[] }
const golden: RotateGolden[] = JSON.parse(readFileSync(new URL('./golden/rotate.json', import.meta.url), 'utf8')).cases;

const shapes: [string, RotateShape][] = [
  ['batch 3, 2 channels, 7×7', { batch: 3, channels: 2, size: 7 }],
  ['batch 5, 1×1', { batch: 5, channels: 1, size: 1 }],
  ['model: batch 64, 1×28×28', { batch: 64, channels: 1, size: 28 }],
  // 66000 output planes: many rounds of the grid-stride loop.
  ['batch 8250, 2×3×3', { batch: 8250, channels: 2, size: 3 }],
];

describe.each(testGpus)('rotate_images on $backend', ({ cache }) => {
  it.each(shapes)('%s', async (_, s) => {
    const random = new Random(s.batch + s.size);
    const images = random.floats(s.batch * s.channels * s.size * s.size);
    const { rotated } = await runKernel(cache, rotateImages, s, { images }, { rotated: random.floats(4 * images.length) });
    expectClose('rotate_images', rotated, rotateImagesRef(s, images));
  });

  it.each(golden.map((g) => [g.name, g] as const))('golden: %s', async (_, g) => {
    const { rotated } = await runKernel(cache, rotateImages, g.shape, { images: Float32Array.from(g.images) }, { rotated: g.rotated.length });
    expectClose('rotate_images', rotated, g.rotated);
  });
});

describe('rotate_images reference', () => {
  it.each(golden.map((g) => [g.name, g] as const))('matches numpy.rot90: %s', (_, g) => {
    expect(Array.from(rotateImagesRef(g.shape, g.images))).toEqual(g.rotated);
  });
});
