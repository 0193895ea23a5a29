// The seed's training recipe: self-supervised pretraining (rotation prediction or contrastive views), an optional
// supervised warm start, and the fused update from logged events, L_total = α·L_self + (1−α)·L_reinforce, L_self being
// the objective the network has a head for. Each phase is one loop over its data.
import type { MnistSplit } from '../data/mnist';
import { subset } from '../data/mnist';
import type { Model } from '../model/model';
import type { Network } from '../engine/architecture';
import { TrainingStep, type PolicyOptions, type StepOptions } from '../model/training_step';
import { digitsSet, eventsSet, type LoggedEvent } from './datasets';
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
  const evaluate = async () => ({ testAccuracy: await model.accuracy(data.test.images, data.test.labels) });

  const phase = async (name: string, step: TrainingStep, set: ReturnType<typeof digitsSet>, epochs: number, withAccuracy: boolean) => {
    model.store.resetOptimizer();
    const phaseRecords = await runEpochs(step, set, {
      phase: name, epochs, seed: plan.seed + records.length, lr: plan.lr,
      // Small sets make many short epochs: about ten evaluations a phase.
      evaluate: withAccuracy ? evaluate : undefined, evaluateEvery: Math.ceil(epochs / 10), onProgress: hooks.onProgress, onEpoch: hooks.onEpoch,
    });
    step.destroy();
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
    const terms = self && plan.alpha > 0 ? { [self]: plan.alpha, policy: 1 - plan.alpha } : { policy: 1 };
    const step = await TrainingStep.create(model, {
      batch: plan.batch, lr: plan.lr, trunkLrScale: plan.trunkLrScale, terms, policy, rotationImages: Math.max(1, Math.floor(plan.batch / 4)),
      contrastive: { images: Math.max(1, Math.floor(plan.batch / 2)), ...contrastive },
    });
    const epochs = Math.max(plan.epochs, Math.ceil(((plan.minSteps ?? 0) * plan.batch) / plan.events.length));
    await phase('events', step, eventsSet(plan.events, { shift: plan.shift ?? 2, seed: plan.seed }), epochs, true);
  }
  const last = records.at(-1);
  const testAccuracy = typeof last?.testAccuracy === 'number' ? last.testAccuracy : (await evaluate()).testAccuracy;
  return { records, testAccuracy, imagesPerSecond };
}
