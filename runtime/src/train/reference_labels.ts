// A third opinion on an evaluation image's digit for the gate's reward model (off_policy.ts): the digits of its
// nearest reference images, images whose digit is known from elsewhere (on the main job, the training images a
// client's reward named). The two models being compared disagree exactly where their own probabilities say least
// about which is right; a nearest-neighbour vote over other images is a different kind of classifier. Digits are
// compared upright and softened (`uprightDigit`): a slant or a stroke one pixel to the side then costs little.
import { IMAGE_PIXELS } from '../engine/architecture';
import { imageHash } from './held_out';
import { normalizeRows } from './probe';

export interface NeighbourOptions {
  /** Neighbours that vote (default 10). */
  k?: number;
  /** Added to every digit's votes before they are normalised, so no digit gets probability 0 (default 0.1). */
  smoothing?: number;
}

/**
 * A voter over labelled reference rows, normalised once: for each query row, P(digit) ∝ smoothing + (votes of its k
 * nearest reference rows by cosine similarity), one row of `classes` probabilities per query. Ties in similarity go
 * to the earlier reference row.
 */
export function neighbourVoter(
  references: ArrayLike<number>, labels: ArrayLike<number>, dim: number, classes: number, options: NeighbourOptions = {},
): (queries: readonly ArrayLike<number>[]) => Float64Array[] {
  const { k = 10, smoothing = 0.1 } = options;
  const referenceCount = labels.length;
  if (references.length !== referenceCount * dim) throw new Error(`neighbourVoter: ${referenceCount} labelled references of ${dim} values need ${referenceCount * dim}, got ${references.length}`);
  if (!(Number.isInteger(k) && k >= 1 && k <= referenceCount)) throw new Error(`neighbourVoter: k must be an integer from 1 to the ${referenceCount} references, got ${k}`);
  if (!(smoothing > 0)) throw new Error(`neighbourVoter: smoothing must be above 0, got ${smoothing}`);
  for (let r = 0; r < referenceCount; r++) {
    if (!(Number.isInteger(labels[r]) && labels[r] >= 0 && labels[r] < classes)) throw new Error(`neighbourVoter: reference ${r} has label ${labels[r]}, not a digit below ${classes}`);
  }
  const ref = normalizeRows(references, referenceCount, dim);
  const best = new Float64Array(k);
  const bestIndex = new Int32Array(k);
  return (queries) => queries.map((query) => {
    if (query.length !== dim) throw new Error(`neighbourVoter: a query of ${query.length} values, expected ${dim}`);
    const q = normalizeRows(query, 1, dim);
    best.fill(-Infinity);
    bestIndex.fill(-1);
    for (let j = 0; j < referenceCount; j++) {
      let s = 0;
      for (let d = 0; d < dim; d++) s += q[d] * ref[j * dim + d];
      if (s <= best[k - 1]) continue;
      // Insert into the sorted top k (strictly greater: an equal similarity keeps the earlier row ahead).
      let at = k - 1;
      while (at > 0 && s > best[at - 1]) {
        best[at] = best[at - 1];
        bestIndex[at] = bestIndex[at - 1];
        at--;
      }
      best[at] = s;
      bestIndex[at] = j;
    }
    const row = new Float64Array(classes).fill(smoothing);
    for (const j of bestIndex) row[labels[j]] += 1;
    const total = smoothing * classes + k;
    for (let c = 0; c < classes; c++) row[c] /= total;
    return row;
  });
}

/** The side of a square digit image. */
const SIDE = Math.round(Math.sqrt(IMAGE_PIXELS));

/**
 * A digit made upright and softened, as nearest-neighbour classifiers of MNIST compare them: sheared so that its ink's
 * x and y no longer covary (the slant of a hand), moved so its centre of mass is the image's centre, both by bilinear
 * sampling, then blurred by [1 2 1]/4 in each direction. A blank image stays blank. (docs/gate.md has what it does
 * for the 10-nearest vote on the test digits.)
 */
export function uprightDigit(image: ArrayLike<number>, side = SIDE): Float32Array {
  if (image.length !== side * side) throw new Error(`uprightDigit: an image of ${image.length} values, expected ${side}×${side}`);
  let mass = 0;
  let mx = 0;
  let my = 0;
  for (let y = 0; y < side; y++) {
    for (let x = 0; x < side; x++) {
      const v = image[y * side + x];
      mass += v;
      mx += v * x;
      my += v * y;
    }
  }
  const out = new Float32Array(side * side);
  if (!(mass > 0)) return out;
  const [cx, cy] = [mx / mass, my / mass];
  let yy = 0;
  let xy = 0;
  for (let y = 0; y < side; y++) {
    for (let x = 0; x < side; x++) {
      const v = image[y * side + x];
      yy += v * (y - cy) ** 2;
      xy += v * (x - cx) * (y - cy);
    }
  }
  const slant = yy > 0 ? xy / yy : 0;
  const centre = (side - 1) / 2;
  const at = (x: number, y: number) => (x >= 0 && x < side && y >= 0 && y < side ? image[y * side + x] : 0);
  const sheared = new Float32Array(side * side);
  for (let y = 0; y < side; y++) {
    for (let x = 0; x < side; x++) {
      // Output (x, y) reads the input where the centred, unslanted digit has it.
      const sx = x - centre + cx + slant * (y - centre);
      const sy = y - centre + cy;
      const [x0, y0] = [Math.floor(sx), Math.floor(sy)];
      const [fx, fy] = [sx - x0, sy - y0];
      sheared[y * side + x] = (1 - fx) * (1 - fy) * at(x0, y0) + fx * (1 - fy) * at(x0 + 1, y0) + (1 - fx) * fy * at(x0, y0 + 1) + fx * fy * at(x0 + 1, y0 + 1);
    }
  }
  // [1 2 1]/4 along rows, then along columns (ink past the border is lost, as it is off the image).
  const rows = new Float32Array(side * side);
  for (let y = 0; y < side; y++) {
    for (let x = 0; x < side; x++) {
      const i = y * side + x;
      rows[i] = 0.5 * sheared[i] + 0.25 * ((x > 0 ? sheared[i - 1] : 0) + (x < side - 1 ? sheared[i + 1] : 0));
    }
  }
  for (let y = 0; y < side; y++) {
    for (let x = 0; x < side; x++) {
      const i = y * side + x;
      out[i] = 0.5 * rows[i] + 0.25 * ((y > 0 ? rows[i - side] : 0) + (y < side - 1 ? rows[i + side] : 0));
    }
  }
  return out;
}

/** Rows of `side`×`side` images made upright (`uprightDigit`), one after another. */
export function uprightDigits(images: ArrayLike<number>, side = SIDE): Float32Array {
  const size = side * side;
  if (images.length % size !== 0) throw new Error(`uprightDigits: ${images.length} values are not whole ${side}×${side} images`);
  const out = new Float32Array(images.length);
  const view = images instanceof Float32Array ? images : Float32Array.from(images);
  for (let i = 0; i < images.length / size; i++) out.set(uprightDigit(view.subarray(i * size, (i + 1) * size), side), i * size);
  return out;
}

/** `neighbourVoter` over digit images compared upright (`uprightDigit`): the reference the gate's reward model reads. */
export function digitVoter(images: ArrayLike<number>, labels: ArrayLike<number>, classes: number, options: NeighbourOptions = {}): (queries: readonly ArrayLike<number>[]) => Float64Array[] {
  const vote = neighbourVoter(uprightDigits(images), labels, IMAGE_PIXELS, classes, options);
  return (queries) => vote(queries.map((q) => uprightDigit(q)));
}

/**
 * The images whose digit a reward named, once each, as references for `neighbourVoter`: an event rewarded at the top
 * of the range says its action is the image's digit. An image named two different digits (a client's mistake, or a
 * hostile key) is left out.
 */
export function namedImages(events: readonly { pixels: ArrayLike<number>; action: number; reward: number }[], topReward = 1, inputSize = IMAGE_PIXELS): { images: Float32Array; labels: Int32Array } {
  const named = new Map<number, { pixels: ArrayLike<number>; label: number }>();
  const conflicting = new Set<number>();
  for (const e of events) {
    if (e.reward < topReward) continue;
    if (e.pixels.length !== inputSize) throw new Error(`namedImages: an image of ${e.pixels.length} values, expected ${inputSize}`);
    const key = imageHash(e.pixels);
    const seen = named.get(key);
    if (!seen) named.set(key, { pixels: e.pixels, label: e.action });
    else if (seen.label !== e.action) conflicting.add(key);
  }
  const kept = [...named.entries()].filter(([key]) => !conflicting.has(key)).map(([, image]) => image);
  const images = new Float32Array(kept.length * inputSize);
  kept.forEach((image, i) => images.set(image.pixels, i * inputSize));
  return { images, labels: Int32Array.from(kept, (image) => image.label) };
}
