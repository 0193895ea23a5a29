// The epoch loop shared by every objective: shuffled batches, cosine learning-rate decay, progress, per-epoch metrics.
import { Random } from '../engine/random';
import type { TermKind, TrainingStep } from '../model/training_step';
import type { TrainingSet } from './datasets';

export interface Progress {
  phase: string;
  epoch: number;
  epochs: number;
  step: number;
  steps: number;
  imagesPerSecond: number;
}

export interface EpochRecord {
  phase: string;
  epoch: number;
  /** Steps done in this phase so far. */
  step: number;
  /** Mean loss of the epoch per term. */
  loss: Partial<Record<TermKind, number>>;
  /** Per-step losses of the epoch per term (for curves). */
  stepLosses: Partial<Record<TermKind, number[]>>;
  imagesPerSecond: number;
  seconds: number;
  [metric: string]: unknown;
}

export interface LoopOptions {
  phase: string;
  epochs: number;
  seed: number;
  lr: number;
  /** The learning rate decays along a cosine to this fraction of `lr` by the last step. */
  finalLrFraction?: number;
  onProgress?: (progress: Progress) => void;
  /** Extra metrics after each epoch, e.g. test accuracy. */
  evaluate?: () => Promise<Record<string, number>>;
  /** Epochs between evaluations (default 1); the last epoch is always evaluated. */
  evaluateEvery?: number;
  onEpoch?: (record: EpochRecord) => void;
}

/** Steps between waits for the GPU: keeps progress honest and the queue short. */
const SYNC_EVERY = 8;

export async function runEpochs(step: TrainingStep, data: TrainingSet, options: LoopOptions): Promise<EpochRecord[]> {
  const batch = step.options.batch;
  if (data.count === 0) throw new Error(`${options.phase}: no training samples`);
  const stepsPerEpoch = Math.ceil(data.count / batch);
  const totalSteps = stepsPerEpoch * options.epochs;
  const random = new Random(options.seed);
  const finalFraction = options.finalLrFraction ?? 0.05;
  const { device } = step.model.gpu;
  // An endless stream of shuffled indices, so every batch is full even when the set is smaller than a batch.
  let order: number[] = [];
  let cursor = 0;
  const nextIndices = (): number[] => {
    const indices: number[] = [];
    while (indices.length < batch) {
      if (cursor >= order.length) {
        order = random.shuffle(Array.from({ length: data.count }, (_, i) => i)) as number[];
        cursor = 0;
      }
      indices.push(order[cursor++]);
    }
    return indices;
  };

  const records: EpochRecord[] = [];
  let done = 0;
  for (let epoch = 1; epoch <= options.epochs; epoch++) {
    const started = performance.now();
    for (let s = 0; s < stepsPerEpoch; s++) {
      const progress = totalSteps > 1 ? done / (totalSteps - 1) : 1;
      const lr = options.lr * (finalFraction + (1 - finalFraction) * 0.5 * (1 + Math.cos(Math.PI * progress)));
      step.run(data.batch(nextIndices()), lr);
      done++;
      if ((s + 1) % SYNC_EVERY === 0 || s === stepsPerEpoch - 1) {
        await device.queue.onSubmittedWorkDone();
        const seconds = (performance.now() - started) / 1000;
        options.onProgress?.({ phase: options.phase, epoch, epochs: options.epochs, step: s + 1, steps: stepsPerEpoch, imagesPerSecond: ((s + 1) * batch) / seconds });
      }
    }
    const seconds = (performance.now() - started) / 1000;
    const stepLosses = await step.drainLosses();
    const loss = Object.fromEntries(Object.entries(stepLosses).map(([k, v]) => [k, v.reduce((a, b) => a + b, 0) / v.length]));
    const due = epoch === options.epochs || epoch % (options.evaluateEvery ?? 1) === 0;
    const extra = (due ? await options.evaluate?.() : undefined) ?? {};
    const record: EpochRecord = { phase: options.phase, epoch, step: done, loss, stepLosses, imagesPerSecond: (stepsPerEpoch * batch) / seconds, seconds, ...extra };
    records.push(record);
    options.onEpoch?.(record);
  }
  return records;
}
