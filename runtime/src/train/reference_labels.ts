// A third opinion on an evaluation image's digit for the gate's reward model (off_policy.ts): the digits of its
// nearest reference images, images whose digit is known from elsewhere (on the main job, the training images a
// client's reward named). The two models being compared disagree exactly where their own probabilities say least
// about which is right; a nearest-neighbour vote over other images is a different kind of classifier.
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
