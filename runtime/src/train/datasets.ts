// What a training step consumes, drawn from digits (with or without labels) or from logged events.
import type { Digits } from '../data/mnist';
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

/** Digits as a training set; labels are only handed out when `withLabels` (self-supervised training never reads them). */
export function digitsSet(digits: Digits, withLabels: boolean, inputSize = 784): TrainingSet {
  return {
    count: digits.count,
    inputSize,
    batch: (indices) => ({
      images: gatherImages(digits.images, inputSize, indices),
      labels: withLabels ? Uint32Array.from({ length: indices.length }, (_, i) => digits.labels[indices[i]]) : undefined,
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
}

export function eventsSet(events: readonly LoggedEvent[], inputSize = 784): TrainingSet {
  const images = new Float32Array(events.length * inputSize);
  events.forEach((e, i) => images.set(e.pixels, i * inputSize));
  return {
    count: events.length,
    inputSize,
    batch: (indices) => ({
      images: gatherImages(images, inputSize, indices),
      actions: Uint32Array.from({ length: indices.length }, (_, i) => events[indices[i]].action),
      propensities: Float32Array.from({ length: indices.length }, (_, i) => events[indices[i]].propensity),
      rewards: Float32Array.from({ length: indices.length }, (_, i) => events[indices[i]].reward),
    }),
  };
}
