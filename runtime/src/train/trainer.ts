// The seed's training recipe: self-supervised pretraining (rotation prediction or contrastive views), an optional
// supervised warm start, and the fused update from logged events, L_total = α·L_self + (1−α)·L_reinforce, L_self being
// the objective the network has a head for. Each phase is one loop over its data.
import type { Digits, MnistSplit } from '../data/mnist';
import { subset } from '../data/mnist';
import type { Model } from '../model/model';
import type { Network } from '../engine/architecture';
import { TrainingStep, type PolicyOptions, type StepOptions } from '../model/training_step';
import { softmaxRows } from '../engine/cpu_engine';
import { digitsSet, eventsSet, type LoggedEvent, type TrainingSet } from './datasets';
import { balancedProbabilities, confidentPicks, roundFractions, type PseudoLabel } from './self_training';
import { labelledIndices } from './held_out';
import { runEpochs, type EpochRecord, type Progress } from './loop';

/**
 * Self-supervised objectives: predicting which of 4 rotations an image shows; NT-Xent between two random views; or
 * `clusters`, NT-Xent and then the policy head fitted to SCAN clusters of the features (clusters.ts).
 */
export type PretrainObjective = 'rotation' | 'contrastive' | 'clusters';
export const PRETRAIN_OBJECTIVES: readonly PretrainObjective[] = ['rotation', 'contrastive', 'clusters'];

/** The loss term an objective pretrains the trunk with: `clusters` starts from contrastive features. */
export const pretrainTerm = (objective: PretrainObjective): 'rotation' | 'contrastive' => (objective === 'rotation' ? 'rotation' : 'contrastive');

/** The self-supervised term a network trains: contrastive when it has a projection head, else rotation if it can. */
export function selfTerm(network: Network): PretrainObjective | undefined {
  if (network.heads.projection) return 'contrastive';
  return network.heads.rotation ? 'rotation' : undefined;
}

export interface TrainPlan {
  /** Self-supervised epochs over the train images (labels never read). */
  pretrainEpochs: number;
  /** What pretraining learns (default: the network's own, see selfTerm). */
  pretrainObjective?: PretrainObjective;
  /** The contrastive term's views and temperature (see StepOptions). */
  contrastive?: StepOptions['contrastive'];
  /** Labelled train images used by the supervised phase (the first N of the split). */
  labels: number;
  /** When set, the labelled images skip those held out for evaluation under this salt (see held_out.ts). */
  heldOutSalt?: string;
  /** Epochs of the supervised phase and of the events phase. */
  epochs: number;
  events?: readonly LoggedEvent[];
  /** Weight of the self-supervised loss in the events phase. */
  alpha: number;
  batch: number;
  lr: number;
  seed: number;
  policy?: Partial<PolicyOptions>;
  /** Random translations of up to this many pixels in every phase (default 2). */
  shift?: number;
  /** The events phase runs at least this many steps (more epochs when there are few events). */
  minSteps?: number;
  /**
   * Images of each events-phase batch the self-supervised term reads: the contrastive term makes two views of each, the
   * rotation term four rotations (default half the batch for contrastive, a quarter for rotation, so either costs as
   * many samples as the policy term). Fewer make the fused step cheaper.
   */
  selfImages?: number;
  /**
   * The events phase runs the self-supervised term on one step in this many, at this many times α (see
   * StepOptions.selfEvery; default 1, every step): the term's share of the gradient on average, at a fraction of its cost.
   */
  selfEvery?: number;
  /** AdamW weight decay (default 0). */
  weightDecay?: number;
  /** Learning rate of the trunk in the supervised and events phases, as a fraction of lr (default 1). */
  trunkLrScale?: number;
}

export interface TrainHooks {
  onProgress?: (progress: Progress) => void;
  onEpoch?: (record: EpochRecord) => void;
}

export interface TrainResult {
  records: EpochRecord[];
  testAccuracy: number;
  imagesPerSecond: Partial<Record<string, number>>;
}

/** Mean reward of the events: the policy-gradient baseline unless one is given. */
export const meanReward = (events: readonly LoggedEvent[]): number => events.reduce((s, e) => s + e.reward, 0) / Math.max(1, events.length);

export async function trainModel(model: Model, data: MnistSplit, plan: TrainPlan, hooks: TrainHooks = {}): Promise<TrainResult> {
  const records: EpochRecord[] = [];
  const imagesPerSecond: Partial<Record<string, number>> = {};

  const phase = async (name: string, step: TrainingStep, set: TrainingSet, epochs: number, withAccuracy: boolean) => {
    const phaseRecords = await runPhase(model, data, step, set, { name, epochs, seed: plan.seed + records.length, lr: plan.lr, withAccuracy }, hooks);
    records.push(...phaseRecords);
    imagesPerSecond[name] = phaseRecords.reduce((s, r) => s + r.imagesPerSecond, 0) / phaseRecords.length;
  };

  const objective = plan.pretrainObjective ?? selfTerm(model.network);
  const contrastive = { seed: plan.seed, ...plan.contrastive };
  if (plan.pretrainEpochs > 0) {
    if (!objective) throw new Error('pretraining needs a rotation or projection head');
    const term = pretrainTerm(objective);
    const step = await TrainingStep.create(model, { batch: plan.batch, lr: plan.lr, terms: { [term]: 1 }, contrastive });
    // Shifted copies keep rotation prediction from settling on where the ink sits (contrastive views move the ink themselves).
    const shift = term === 'rotation' ? plan.shift ?? 2 : 0;
    await phase('pretrain', step, digitsSet(data.train, false, { shift, seed: plan.seed }), plan.pretrainEpochs, false);
  }
  if (plan.labels > 0 && plan.epochs > 0) {
    const first = plan.heldOutSalt === undefined ? Array.from({ length: Math.min(plan.labels, data.train.count) }, (_, i) => i) : labelledIndices(data.train, plan.labels, plan.heldOutSalt);
    const labelled = subset(data.train, first);
    const step = await TrainingStep.create(model, { batch: plan.batch, lr: plan.lr, weightDecay: plan.weightDecay, trunkLrScale: plan.trunkLrScale, terms: { supervised: 1 } });
    await phase('supervised', step, digitsSet(labelled, true, { shift: plan.shift ?? 2, seed: plan.seed }), plan.epochs, true);
  }
  if (plan.events && plan.events.length > 0 && plan.epochs > 0) {
    // Ratio weights take the mean reward as baseline; inverse-propensity weights need 0 (see TrainingStep).
    const baseline = plan.policy?.weighting === 'inverse' ? 0 : meanReward(plan.events);
    const policy: PolicyOptions = { clip: 10, selfNormalize: true, baseline, ...plan.policy };
    // The rotation term sees a quarter of each batch (four rotations each), the contrastive term half (two views each):
    // as many samples as the policy term.
    const self = selfTerm(model.network);
    if (plan.selfImages !== undefined && !(Number.isInteger(plan.selfImages) && plan.selfImages >= 1)) throw new Error(`selfImages must be a whole number ≥ 1, got ${plan.selfImages}`);
    const terms = self && plan.alpha > 0 ? { [self]: plan.alpha, policy: 1 - plan.alpha } : { policy: 1 };
    const step = await TrainingStep.create(model, {
      batch: plan.batch, lr: plan.lr, trunkLrScale: plan.trunkLrScale, terms, policy, selfEvery: plan.selfEvery, rotationImages: plan.selfImages ?? Math.max(1, Math.floor(plan.batch / 4)),
      contrastive: { images: plan.selfImages ?? Math.max(1, Math.floor(plan.batch / 2)), ...contrastive },
    });
    const epochs = Math.max(plan.epochs, Math.ceil(((plan.minSteps ?? 0) * plan.batch) / plan.events.length));
    await phase('events', step, eventsSet(plan.events, { shift: plan.shift ?? 2, seed: plan.seed }), epochs, true);
  }
  const last = records.at(-1);
  const testAccuracy = typeof last?.testAccuracy === 'number' ? last.testAccuracy : await model.accuracy(data.test.images, data.test.labels);
  return { records, testAccuracy, imagesPerSecond };
}

/** The images of `digits` at `indices`, with the labels given instead of the data set's (which are not read). */
function withLabels(digits: Digits, indices: readonly number[], labels: readonly number[]): Digits {
  return { ...subset({ ...digits, labels: new Uint8Array(digits.count) }, indices), labels: Uint8Array.from(labels) };
}

/** One phase: a fresh optimiser state, the epochs over the set, the step's buffers freed; test accuracy about ten times. */
async function runPhase(
  model: Model, data: MnistSplit, step: TrainingStep, set: TrainingSet, phase: { name: string; epochs: number; seed: number; lr: number; withAccuracy: boolean }, hooks: TrainHooks,
): Promise<EpochRecord[]> {
  model.store.resetOptimizer();
  const evaluate = async () => ({ testAccuracy: await model.accuracy(data.test.images, data.test.labels) });
  try {
    return await runEpochs(step, set, {
      phase: phase.name, epochs: phase.epochs, seed: phase.seed, lr: phase.lr,
      // Small sets make many short epochs: about ten evaluations a phase.
      evaluate: phase.withAccuracy ? evaluate : undefined, evaluateEvery: Math.ceil(phase.epochs / 10), onProgress: hooks.onProgress, onEpoch: hooks.onEpoch,
    });
  } finally {
    step.destroy();
  }
}

export interface SelfTrainPlan {
  /** Indices of the labelled train images: the only labels read. Every other train image is unlabelled. */
  labelled: readonly number[];
  rounds: number;
  /** Share of each class the first and the last round take (see roundFractions; defaults 0.5 and 0.9). */
  first?: number;
  last?: number;
  /**
   * Each labelled image appears this many times in a round's set (default: about 2,000 labelled samples in all, 20
   * times for 100 labels), so a hundred labels still count beside thousands of pseudo-labels.
   */
  repeat?: number;
  /** Epochs of each round (at least minSteps steps), the self-supervised term's weight beside the labels, and the usual rates. */
  epochs: number;
  minSteps?: number;
  alpha: number;
  batch: number;
  lr: number;
  trunkLrScale?: number;
  seed: number;
  shift?: number;
  contrastive?: StepOptions['contrastive'];
  /** Rank the picks by probabilities balanced to equal class shares (balancedProbabilities), not the model's own. */
  balance?: boolean;
}

export interface SelfTrainRound {
  fraction: number;
  /** The unlabelled images the round trained on, with the class the model gave each. */
  picks: PseudoLabel[];
  testAccuracy: number;
}

/**
 * Self-training (see self_training.ts): each round, the model names the unlabelled train images it is surest of, per
 * class, then trains on them and the labelled images (cross-entropy) beside its self-supervised term. The policy head
 * should already name the classes (clusters named by the labels, or a fine-tuned head): round 1 trusts its argmax.
 */
export async function selfTrain(model: Model, data: MnistSplit, plan: SelfTrainPlan, hooks: TrainHooks = {}): Promise<TrainResult & { rounds: SelfTrainRound[] }> {
  const records: EpochRecord[] = [];
  const rounds: SelfTrainRound[] = [];
  const labelled = new Set(plan.labelled);
  if (labelled.size === 0) throw new Error('self-training needs at least one labelled image');
  const classes = model.network.heads.policy.outFeatures;
  const repeat = plan.repeat ?? Math.max(1, Math.round(2000 / labelled.size));
  const labels = plan.labelled.map((i) => data.train.labels[i]);
  for (const [round, fraction] of roundFractions(plan.rounds, plan.first, plan.last).entries()) {
    const own = softmaxRows(await model.logits(data.train.images, data.train.count), data.train.count, classes);
    const probabilities = plan.balance ? balancedProbabilities(own, data.train.count, classes) : own;
    const picks = confidentPicks(probabilities, data.train.count, classes, fraction, labelled);
    // The labelled images with their labels, `repeat` times, then the picks with the class the model gave them.
    const set = withLabels(data.train, [...Array.from({ length: repeat }, () => plan.labelled).flat(), ...picks.map((p) => p.index)],
      [...Array.from({ length: repeat }, () => labels).flat(), ...picks.map((p) => p.label)]);
    const self = selfTerm(model.network);
    const terms = self && plan.alpha > 0 ? { supervised: 1 - plan.alpha, [self]: plan.alpha } : { supervised: 1 };
    const step = await TrainingStep.create(model, {
      batch: plan.batch, lr: plan.lr, trunkLrScale: plan.trunkLrScale, terms, rotationImages: Math.max(1, Math.floor(plan.batch / 4)),
      contrastive: { images: Math.max(1, Math.floor(plan.batch / 2)), seed: plan.seed + round, ...plan.contrastive },
    });
    const epochs = Math.max(plan.epochs, Math.ceil(((plan.minSteps ?? 0) * plan.batch) / set.count));
    const phaseRecords = await runPhase(model, data, step, digitsSet(set, true, { shift: plan.shift ?? 2, seed: plan.seed + round }),
      { name: `self-training ${round + 1}/${plan.rounds}`, epochs, seed: plan.seed * 100 + round, lr: plan.lr, withAccuracy: true }, hooks);
    records.push(...phaseRecords);
    rounds.push({ fraction, picks, testAccuracy: phaseRecords.at(-1)!.testAccuracy as number });
  }
  const imagesPerSecond = { 'self-training': records.reduce((s, r) => s + r.imagesPerSecond, 0) / records.length };
  return { records, testAccuracy: rounds.at(-1)!.testAccuracy, imagesPerSecond, rounds };
}
