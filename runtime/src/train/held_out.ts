// Held-out selection: which images are kept for evaluation, in every generation and in every labelled warm start, so
// a candidate is never evaluated on an image it was trained on. Decided by a hash of the quantised pixels and a salt.
import type { Digits } from '../data/mnist';
import { IMAGE_PIXELS } from '../engine/architecture';

/** One image in this many is held out. */
export const HELD_OUT_MODULUS = 5;

/** FNV-1a over the salt's characters and the image quantised to bytes (round(value · 255)), as the edge logs it. */
export function imageHash(pixels: ArrayLike<number>, salt = ''): number {
  let h = 2166136261;
  for (let i = 0; i < salt.length; i++) h = Math.imul(h ^ salt.charCodeAt(i), 16777619);
  for (let i = 0; i < pixels.length; i++) h = Math.imul(h ^ Math.round(pixels[i] * 255), 16777619);
  return h >>> 0;
}

/** Whether the image is held out for evaluation (one in HELD_OUT_MODULUS, by its salted hash). */
export const isHeldOut = (pixels: ArrayLike<number>, salt = ''): boolean => imageHash(pixels, salt) % HELD_OUT_MODULUS === 0;

/** The first `count` digits whose images are not held out: the labelled set of a supervised warm start. */
export function labelledIndices(digits: Digits, count: number, salt = '', inputSize = IMAGE_PIXELS): number[] {
  const indices: number[] = [];
  for (let i = 0; i < digits.count && indices.length < count; i++) {
    if (!isHeldOut(digits.images.subarray(i * inputSize, (i + 1) * inputSize), salt)) indices.push(i);
  }
  return indices;
}
