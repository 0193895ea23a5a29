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
 * For each query row, P(digit) ∝ smoothing + (votes of its k nearest reference rows by cosine similarity), as rows of
 * `classes` probabilities, [queries, classes]. Ties in similarity go to the earlier reference row.
 */
export function neighbourLabels(
  queries: ArrayLike<number>, queryCount: number, references: ArrayLike<number>, labels: ArrayLike<number>, dim: number, classes: number,
  options: NeighbourOptions = {},
): Float64Array {
  const { k = 10, smoothing = 0.1 } = options;
  const referenceCount = labels.length;
  if (queries.length !== queryCount * dim) throw new Error(`neighbourLabels: ${queryCount} queries of ${dim} values need ${queryCount * dim}, got ${queries.length}`);
  if (references.length !== referenceCount * dim) throw new Error(`neighbourLabels: ${referenceCount} labelled references of ${dim} values need ${referenceCount * dim}, got ${references.length}`);
  if (!(Number.isInteger(k) && k >= 1 && k <= referenceCount)) throw new Error(`neighbourLabels: k must be an integer from 1 to the ${referenceCount} references, got ${k}`);
  if (!(smoothing > 0)) throw new Error(`neighbourLabels: smoothing must be above 0, got ${smoothing}`);
  for (let r = 0; r < referenceCount; r++) {
    if (!(Number.isInteger(labels[r]) && labels[r] >= 0 && labels[r] < classes)) throw new Error(`neighbourLabels: reference ${r} has label ${labels[r]}, not a digit below ${classes}`);
  }
  const q = normalizeRows(queries, queryCount, dim);
  const ref = normalizeRows(references, referenceCount, dim);
  const out = new Float64Array(queryCount * classes);
  const best = new Float64Array(k);
  const bestIndex = new Int32Array(k);
  for (let i = 0; i < queryCount; i++) {
    best.fill(-Infinity);
    bestIndex.fill(-1);
    for (let j = 0; j < referenceCount; j++) {
      let s = 0;
      for (let d = 0; d < dim; d++) s += q[i * dim + d] * ref[j * dim + d];
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
    const row = out.subarray(i * classes, (i + 1) * classes);
    row.fill(smoothing);
    for (const j of bestIndex) row[labels[j]] += 1;
    const total = smoothing * classes + k;
    for (let c = 0; c < classes; c++) row[c] /= total;
  }
  return out;
}

/**
 * The images whose digit a reward named, once each, as references for `neighbourLabels`: an event rewarded at the top
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
