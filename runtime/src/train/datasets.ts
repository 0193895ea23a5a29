// What a training step consumes, drawn from digits (with or without labels) or from logged events.
import type { Digits } from '../data/mnist';
import { IMAGE_PIXELS } from '../engine/architecture';
import { Random } from '../engine/random';
import type { StepBatch } from '../model/training_step';

export interface TrainingSet {
  count: number;
  inputSize: number;
  /** Gathers the samples at `indices` into one batch. */
  batch(indices: ArrayLike<number>): StepBatch;
}

function gatherImages(images: Float32Array, inputSize: number, indices: ArrayLike<number>): Float32Array {
  const out = new Float32Array(indices.length * inputSize);
  for (let i = 0; i < indices.length; i++) out.set(images.subarray(indices[i] * inputSize, (indices[i] + 1) * inputSize), i * inputSize);
  return out;
}

/** Moves each 28×28 image by a random offset of up to ±`shift` pixels in x and y (zeros shifted in), in place. */
function shiftImages(images: Float32Array, count: number, shift: number, random: Random, size = 28): void {
  const source = new Float32Array(size * size);
  for (let n = 0; n < count; n++) {
    const image = images.subarray(n * size * size, (n + 1) * size * size);
    source.set(image);
    image.fill(0);
    const dy = random.int(2 * shift + 1) - shift;
    const dx = random.int(2 * shift + 1) - shift;
    for (let y = Math.max(0, dy); y < Math.min(size, size + dy); y++) {
      for (let x = Math.max(0, dx); x < Math.min(size, size + dx); x++) image[y * size + x] = source[(y - dy) * size + x - dx];
    }
  }
}

/**
 * Digits as a training set; labels are only handed out when `withLabels` (self-supervised training never reads
 * them). `shift` > 0 augments each batch with random translations of up to that many pixels.
 */
export function digitsSet(digits: Digits, withLabels: boolean, options: { shift?: number; seed?: number } = {}, inputSize = IMAGE_PIXELS): TrainingSet {
  const random = new Random(options.seed ?? 1);
  return {
    count: digits.count,
    inputSize,
    batch: (indices) => {
      const images = gatherImages(digits.images, inputSize, indices);
      if (options.shift) shiftImages(images, indices.length, options.shift, random);
      return { images, labels: withLabels ? Uint32Array.from({ length: indices.length }, (_, i) => digits.labels[indices[i]]) : undefined };
    },
  };
}

/**
 * Digits with a partner for each: one of its `k` nearest neighbours in feature space (`neighbours`, [count, k] from
 * nearestNeighbours), drawn afresh each time, for the clustering term (see TrainingStep). No labels, no shift: the
 * term warps both images itself.
 */
export function neighbourSet(digits: Digits, neighbours: Int32Array, options: { seed?: number } = {}, inputSize = IMAGE_PIXELS): TrainingSet {
  const k = neighbours.length / digits.count;
  if (!Number.isInteger(k) || k < 1) throw new Error(`neighbours must hold k ≥ 1 indices for each of the ${digits.count} digits, got ${neighbours.length}`);
  const random = new Random(options.seed ?? 1);
  return {
    count: digits.count,
    inputSize,
    batch: (indices) => ({
      images: gatherImages(digits.images, inputSize, indices),
      partners: gatherImages(digits.images, inputSize, Array.from(indices, (i) => neighbours[i * k + random.int(k)])),
    }),
  };
}

/** A logged interaction: the image shown, the action taken with its propensity, and the reward it got. */
export interface LoggedEvent {
  eventId: string;
  pixels: Float32Array;
  action: number;
  propensity: number;
  reward: number;
  modelVersion?: string;
  /** The id of the key that sent the event and its reward (absent in logs from before keys were recorded). */
  keyId?: string;
  /** `client` when a client sent the reward; `default` when nobody did and the export filled in DEFAULT_REWARD (unknown). */
  rewardSource?: 'client' | 'default';
  /** The export cursor of the event: events with a larger one were logged later. */
  cursor?: string;
  /** The exploration policy the action was drawn under (`greedy` for explore:false); absent for old logs. */
  exploration?: string | null;
  /** The whole distribution the action was drawn from. */
  loggingProbabilities?: number[] | null;
  /** The challenger mixed into the logging distribution, if any. */
  challengerVersion?: string | null;
}

/** A reward that says "not this action": given by a client (not the default) and at most 0. */
export const isComplementary = (event: LoggedEvent): boolean => event.reward <= 0 && event.rewardSource !== 'default';

/**
 * Logged events as a training set. `shift` > 0 moves each image by up to that many pixels: the logged action and
 * its reward stay valid, since a digit moved by a pixel or two is the same digit.
 */
export function eventsSet(events: readonly LoggedEvent[], options: { shift?: number; seed?: number } = {}, inputSize = IMAGE_PIXELS): TrainingSet {
  const images = new Float32Array(events.length * inputSize);
  events.forEach((e, i) => images.set(e.pixels, i * inputSize));
  const random = new Random(options.seed ?? 1);
  const gather = (indices: ArrayLike<number>) => {
    const batch = gatherImages(images, inputSize, indices);
    if (options.shift) shiftImages(batch, indices.length, options.shift, random);
    return batch;
  };
  return {
    count: events.length,
    inputSize,
    batch: (indices) => ({
      images: gather(indices),
      actions: Uint32Array.from({ length: indices.length }, (_, i) => events[indices[i]].action),
      propensities: Float32Array.from({ length: indices.length }, (_, i) => events[indices[i]].propensity),
      rewards: Float32Array.from({ length: indices.length }, (_, i) => events[indices[i]].reward),
      negatives: Float32Array.from({ length: indices.length }, (_, i) => (isComplementary(events[indices[i]]) ? 1 : 0)),
    }),
  };
}
