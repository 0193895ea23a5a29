// Contrastive training whose positives are nearest neighbours (NNCLR, Dwibedi et al. 2021): each round finds every
// train image's nearest neighbours on the trunk's current features, then trains NT-Xent with a view of one of them,
// drawn afresh each time, as the image's positive. Two views of one image only teach what survives a warp; a
// neighbour is mostly another writer's same digit (91% of the 20 nearest after plain contrastive pretraining), so the
// features learn what a class shares. No label is read.
import type { Digits } from '../data/mnist';
import type { Model } from '../model/model';
import { TrainingStep } from '../model/training_step';
import { nearestNeighbours } from './clusters';
import { neighbourSet } from './datasets';
import { runEpochs, type LoopOptions } from './loop';
import { normalizeRows } from './probe';

export interface NeighbourRoundsOptions {
  rounds: number;
  /** Neighbours each image's positive is drawn from (default 20). */
  neighbours?: number;
  /** Epochs of NT-Xent per round (default 8). */
  epochs?: number;
  temperature: number;
  seed: number;
  /** Adam's rate, cosine-decayed within each round (default 0.002). */
  lr?: number;
  onProgress?: LoopOptions['onProgress'];
  onEpoch?: LoopOptions['onEpoch'];
  /** After each round's neighbours are found, before it trains: their indices ([count, k], nearest first). */
  onNeighbours?: (round: number, neighbours: Int32Array) => void;
}

/** The measured defaults (docs/evolution.md, "Fourteenth round"). */
export const NEIGHBOUR_ROUND_DEFAULTS = { neighbours: 20, epochs: 8, lr: 0.002 } as const;

/** Trains `model` (with a projection head) for `rounds` rounds of NT-Xent with nearest-neighbour positives. */
export async function trainNeighbourRounds(model: Model, digits: Digits, options: NeighbourRoundsOptions): Promise<void> {
  const k = options.neighbours ?? NEIGHBOUR_ROUND_DEFAULTS.neighbours;
  const epochs = options.epochs ?? NEIGHBOUR_ROUND_DEFAULTS.epochs;
  const lr = options.lr ?? NEIGHBOUR_ROUND_DEFAULTS.lr;
  const dim = model.network.features;
  for (let round = 1; round <= options.rounds; round++) {
    const features = await model.features(digits.images, digits.count);
    const neighbours = nearestNeighbours(normalizeRows(features, digits.count, dim), digits.count, dim, k);
    options.onNeighbours?.(round, neighbours);
    // Each round starts Adam afresh, as each pretraining phase does.
    model.store.resetOptimizer();
    const seed = options.seed + round;
    const step = await TrainingStep.create(model, { batch: 64, lr, terms: { contrastive: 1 }, contrastive: { temperature: options.temperature, seed, partners: true } });
    try {
      await runEpochs(step, neighbourSet(digits, neighbours, { seed }), { phase: `neighbours ${round}/${options.rounds}`, epochs, seed, lr, onProgress: options.onProgress, onEpoch: options.onEpoch });
    } finally {
      step.destroy();
    }
  }
}
